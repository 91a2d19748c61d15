"""One app's per-minute points as `wharf metrics --json` prints them: what the API and the dashboard's
graphs both answer with."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import redis

from wharf.platform.errors import BadRequest
from wharf.platform.metrics.store import MetricsStore, parse_since

PROCESS_TYPE = re.compile(r"[a-z0-9][a-z0-9_-]{0,29}")


def app_points(
    client: redis.Redis[bytes], app_name: str, *, process_type: str | None, since: str
) -> list[dict[str, Any]]:
    """Points of each minute, oldest first; `process_type` one type (None: all), `since` like 30m or 1h."""
    check_process_type(process_type)
    window = since_window(since)
    points = MetricsStore(client).minute_points(app_name, process_type=process_type, since=window)
    return [point.as_json() for point in points]


def check_process_type(process_type: str | None) -> None:
    if process_type is not None and not PROCESS_TYPE.fullmatch(process_type):
        raise BadRequest(f"type must be a process type such as web or worker, not {process_type!r}")


def since_window(since: str) -> timedelta:
    """`since` (30m, 1h, 7d) as a duration; BadRequest saying what to write otherwise."""
    try:
        return parse_since(since)
    except ValueError as error:
        raise BadRequest(str(error)) from error
