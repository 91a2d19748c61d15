"""Docker's times (RFC 3339 in UTC with nanoseconds; year 1 for "never") as Python datetimes."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

UNSET_DOCKER_TIME = "0001-01-01T00:00:00Z"


def parse_docker_time(value: object) -> datetime | None:
    """The time, to the microsecond; None for Docker's zero time or what is not a time."""
    if not isinstance(value, str) or not value or value.startswith(UNSET_DOCKER_TIME[:10]):
        return None
    stamp, _, fraction = value.rstrip("Z").partition(".")
    micros = (fraction + "000000")[:6]
    try:
        return datetime.fromisoformat(f"{stamp}.{micros}").replace(tzinfo=UTC)
    except ValueError:
        return None


def created_before(attrs: Mapping[str, object], moment: datetime | None) -> bool:
    """True when MOMENT is None or the image/container (its attrs) was created before it."""
    if moment is None:
        return True
    created = parse_docker_time(attrs.get("Created"))
    return created is not None and created < moment
