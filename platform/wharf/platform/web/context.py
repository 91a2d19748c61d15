"""What the API needs at run time, built once from settings and shared by every request."""

from __future__ import annotations

from dataclasses import dataclass

import redis

from wharf.platform.security.crypto import ConfigCipher
from wharf.platform.security.ratelimit import FailureLimiter
from wharf.platform.settings import Settings
from wharf.platform.web.log_events import LogTails


@dataclass
class ApiContext:
    settings: Settings
    database_url: str
    cipher: ConfigCipher
    redis: redis.Redis[bytes]
    limiter: FailureLimiter
    log_tails: LogTails


def build_context(settings: Settings) -> ApiContext:
    client = redis.Redis.from_url(settings.resolved_redis_url)
    return ApiContext(
        settings=settings,
        database_url=settings.resolved_database_url,
        cipher=ConfigCipher(settings.secret_key()),
        redis=client,
        limiter=FailureLimiter(client, settings.wharf_auth_window_seconds),
        log_tails=LogTails(
            settings.resolved_redis_url, client, max_per_user=settings.wharf_max_log_tails_per_user
        ),
    )
