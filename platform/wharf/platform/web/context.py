"""What the API needs at run time, built once from settings and shared by every request."""

from __future__ import annotations

from dataclasses import dataclass

import redis

from wharf.platform.security.crypto import ConfigCipher
from wharf.platform.security.ratelimit import FailureLimiter
from wharf.platform.settings import Settings


@dataclass
class ApiContext:
    settings: Settings
    database_url: str
    cipher: ConfigCipher
    redis: redis.Redis[bytes]
    limiter: FailureLimiter


def build_context(settings: Settings) -> ApiContext:
    client = redis.Redis.from_url(settings.resolved_redis_url)
    return ApiContext(
        settings=settings,
        database_url=settings.resolved_database_url,
        cipher=ConfigCipher(settings.secret_key()),
        redis=client,
        limiter=FailureLimiter(client, settings.wharf_auth_window_seconds),
    )
