"""Requests per account per day, as the buckets counted them (kept 31 days)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import redis

from wharf.platform.metering.buckets import KINDS, USAGE_DAYS_KEPT, usage_key

MAX_DAYS = USAGE_DAYS_KEPT


@dataclass
class DayUsage:
    date: str
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))

    def to_json(self) -> dict[str, object]:
        return {"date": self.date, **self.counts, "total": sum(self.counts.values())}


def _days(days: int) -> list[str]:
    today = datetime.now(UTC).date()
    return [(today - timedelta(days=back)).isoformat() for back in range(min(days, MAX_DAYS))]


def account_usage(
    client: redis.Redis[bytes], *, installation: str, user_id: int, days: int = 30
) -> list[DayUsage]:
    """One entry per day, newest first, zeros included."""
    dates = _days(days)
    pipe = client.pipeline()
    for date in dates:
        pipe.hmget(usage_key(installation, date), [f"{user_id}:{kind}" for kind in KINDS])
    answers = pipe.execute()
    return [
        DayUsage(date, {kind: int(v or 0) for kind, v in zip(KINDS, values, strict=True)})
        for date, values in zip(dates, answers, strict=True)
    ]


def all_usage(
    client: redis.Redis[bytes], *, installation: str, days: int = 30
) -> dict[str, dict[str, DayUsage]]:
    """Per day (newest first), per account id (or "anonymous"), the days with any request."""
    dates = _days(days)
    pipe = client.pipeline()
    for date in dates:
        pipe.hgetall(usage_key(installation, date))
    result: dict[str, dict[str, DayUsage]] = {}
    for date, fields in zip(dates, pipe.execute(), strict=True):
        per_account: dict[str, DayUsage] = {}
        for raw_field, raw_count in fields.items():
            account, _, kind = raw_field.decode().rpartition(":")
            if kind in KINDS:
                per_account.setdefault(account, DayUsage(date)).counts[kind] = int(raw_count)
        result[date] = per_account
    return result
