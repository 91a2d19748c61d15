"""What the API needs at run time, built once from settings and shared by every request."""

from __future__ import annotations

from dataclasses import dataclass

import redis

from wharf.platform.security.crypto import ConfigCipher
from wharf.platform.security.ratelimit import FailureLimiter
from wharf.platform.settings import Settings
from wharf.platform.web.log_events import LogTails
from wharf.platform.web.session_pools import PoolLimits, SessionPool

# Blocking engine calls of attached sessions (create, start, wait, remove) run on this many threads.
RUN_SESSION_THREADS = 8


@dataclass
class ApiContext:
    settings: Settings
    database_url: str
    cipher: ConfigCipher
    redis: redis.Redis[bytes]
    limiter: FailureLimiter
    log_tails: LogTails
    run_sessions: SessionPool
    addon_operations: SessionPool


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
        run_sessions=run_session_pool(settings),
        addon_operations=addon_operation_pool(settings),
    )


def run_session_pool(settings: Settings) -> SessionPool:
    return SessionPool(
        PoolLimits(
            what="attached `wharf run` sessions",
            per_user=settings.wharf_run_sessions_per_user,
            total=settings.wharf_run_sessions,
            threads=RUN_SESSION_THREADS,
            per_user_setting="WHARF_RUN_SESSIONS_PER_USER",
            total_setting="WHARF_RUN_SESSIONS",
            hint=", or use `wharf run --detach`",
        )
    )


def addon_operation_pool(settings: Settings) -> SessionPool:
    """psql statements, backup captures and restores, each on a thread of this pool while it runs."""
    return SessionPool(
        PoolLimits(
            what="add-on operations (psql statements, backups, restores)",
            per_user=settings.wharf_addon_operations_per_user,
            total=settings.wharf_addon_operations,
            threads=settings.wharf_addon_operations,
            per_user_setting="WHARF_ADDON_OPERATIONS_PER_USER",
            total_setting="WHARF_ADDON_OPERATIONS",
        )
    )
