"""Caps on requests that last: per user (429 naming the setting) and overall (503), released on exit."""

from __future__ import annotations

import threading

import anyio
import pytest

from wharf.platform.errors import TooManyRequests
from wharf.platform.web.session_pools import PoolLimits, ServiceBusy, SessionPool

LIMITS = PoolLimits(
    what="attached `wharf run` sessions",
    per_user=2,
    total=3,
    threads=1,
    per_user_setting="WHARF_RUN_SESSIONS_PER_USER",
    total_setting="WHARF_RUN_SESSIONS",
)


def test_a_user_over_the_cap_gets_429_naming_the_setting_and_others_still_get_in() -> None:
    pool = SessionPool(LIMITS)
    with pool.slot(1), pool.slot(1):
        with pytest.raises(TooManyRequests) as refused, pool.slot(1):
            pass
        assert "WHARF_RUN_SESSIONS_PER_USER=2" in refused.value.message
        assert refused.value.status_code == 429 and refused.value.error_id == "too_many_sessions"
        with pool.slot(2), pytest.raises(ServiceBusy) as full, pool.slot(3):
            pass
        assert "WHARF_RUN_SESSIONS=3" in full.value.message and full.value.status_code == 503
    assert pool.open_sessions == 0
    with pool.slot(1), pool.slot(1):
        assert pool.open_for(1) == 2


def test_blocking_calls_run_on_the_pools_own_threads() -> None:
    pool = SessionPool(LIMITS)
    caller = threading.get_ident()

    async def main() -> int:
        return await pool.run(threading.get_ident)

    assert anyio.run(main) != caller


def test_a_session_request_is_checked_before_any_dyno_starts() -> None:
    from wharf.platform.errors import BadRequest
    from wharf.platform.web.api.routes.run import parse_request

    assert parse_request({"command": "ls", "tty": False}).tty is False
    assert parse_request({"command": "ls"}).tty is True  # clients that predate "tty" always had one
    bad: object
    for bad in ({}, {"command": " "}, {"command": "x" * 20000}, {"command": "ls", "size": "huge"}, []):
        with pytest.raises(BadRequest):
            parse_request(bad)
