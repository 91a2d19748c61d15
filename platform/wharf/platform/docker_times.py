"""Creation times of Docker images and containers, to tell an object made before a moment apart."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime


def docker_time(value: str) -> datetime:
    """Docker's RFC 3339 times carry nanoseconds; Python reads microseconds."""
    trimmed = re.sub(r"(\.\d{6})\d+", r"\1", value.replace("Z", "+00:00"))
    return datetime.fromisoformat(trimmed)


def created_before(attrs: Mapping[str, object], moment: datetime | None) -> bool:
    """True when MOMENT is None or the image/container (its attrs) was created before it."""
    if moment is None:
        return True
    created = attrs.get("Created")
    if not isinstance(created, str):
        return False
    return docker_time(created) < moment
