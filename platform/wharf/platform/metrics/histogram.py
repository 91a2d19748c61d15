"""Response-time histograms with fine log-scale buckets, so percentiles stay honest when merged.

Timings up to 25 ms get one bucket per millisecond (nginx measures whole milliseconds); above, each
bucket is 4% wider than the one before, so a percentile read back is within 2% of the true sample's
value. Buckets are plain counters: minutes, routers and statsd packets merge by adding them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

EXACT_MS = 25
GROWTH = 1.04
_LOG_GROWTH = math.log(GROWTH)
MAX_MS = 3_600_000.0


def bucket_of(ms: float) -> int:
    """The bucket index of a timing in milliseconds (negative timings count as zero)."""
    ms = min(max(ms, 0.0), MAX_MS)
    if ms < EXACT_MS:
        return int(ms)
    return EXACT_MS + int(math.log(ms / EXACT_MS) / _LOG_GROWTH)


def bucket_value(index: int) -> float:
    """The value a bucket stands for: its lower bound below 25 ms, its geometric middle above."""
    if index < EXACT_MS:
        return float(index)
    return float(EXACT_MS * GROWTH ** (index - EXACT_MS + 0.5))


def percentile(buckets: Mapping[int, int], quantile: float, *, ceiling: float | None = None) -> float | None:
    """The nearest-rank percentile of the counted timings; None when nothing was counted.

    `ceiling` (the exact maximum) caps the answer, so p99 never exceeds max.
    """
    total = sum(buckets.values())
    if total <= 0:
        return None
    rank = max(1, math.ceil(quantile * total))
    seen = 0
    for index in sorted(buckets):
        seen += buckets[index]
        if seen >= rank:
            value = bucket_value(index)
            return round(min(value, ceiling) if ceiling is not None else value, 1)
    return None  # pragma: no cover - the loop always reaches the rank
