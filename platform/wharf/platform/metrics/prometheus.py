"""Every app's last complete minute in Prometheus' text exposition format, labelled by app and type."""

from __future__ import annotations

import time
from collections import defaultdict

from wharf.platform.metrics.points import MinutePoint
from wharf.platform.metrics.store import (
    MINUTE,
    MetricsStore,
    decode_fields,
    minute_key,
    minute_of,
    point_from_fields,
)

GAUGES = {
    "wharf_router_requests_per_minute": "Requests the router answered in the last complete minute.",
    "wharf_router_response_time_ms": "Router response time (service=) percentiles of the last minute.",
    "wharf_router_bytes_per_minute": "Bytes the router sent in the last complete minute.",
    "wharf_router_errors_per_minute": "Router H-code errors in the last complete minute.",
    "wharf_dyno_memory_rss_mb": "The largest dyno's resident memory in the last minute.",
    "wharf_dyno_memory_limit_mb": "The dyno size's memory limit.",
    "wharf_dyno_swap_mb": "The largest dyno's swap use in the last minute.",
    "wharf_dyno_cpu_percent": "Mean dyno CPU use in the last minute, percent of one core.",
    "wharf_dyno_restarts_per_minute": "Dyno exits in the last complete minute.",
    "wharf_app_custom": "The app's statsd series of the last minute (counters summed, gauges last, p95).",
}


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def prometheus_text(store: MetricsStore) -> str:
    minute = minute_of(time.time()) - MINUTE
    samples: dict[str, list[str]] = defaultdict(list)
    for app in store.apps():
        raw = store.client.hgetall(minute_key(app, minute))
        types = sorted({name.split("|")[1] for name in decode_fields(raw) if name.startswith("p|")})
        for ptype in types:
            labels = f'app="{_label(app)}",type="{_label(ptype)}"'
            _add_type_samples(samples, labels, point_from_fields(minute, raw, ptype))
        for name, value in point_from_fields(minute, raw, None).custom.items():
            samples["wharf_app_custom"].append(f'{{app="{_label(app)}",name="{_label(name)}"}} {value:g}')
    lines: list[str] = []
    for metric, help_text in GAUGES.items():
        lines += [f"# HELP {metric} {help_text}", f"# TYPE {metric} gauge"]
        lines += [metric + sample for sample in samples.get(metric, [])]
    return "\n".join(lines) + "\n"


def _add_type_samples(samples: dict[str, list[str]], labels: str, point: MinutePoint) -> None:
    """The router and dyno samples of one app's process type, by metric name."""
    for status, count in point.status.items():
        samples["wharf_router_requests_per_minute"].append(f'{{{labels},status="{status}"}} {count}')
    for quantile, value in (("0.5", point.p50_ms), ("0.95", point.p95_ms), ("0.99", point.p99_ms)):
        if value is not None:
            samples["wharf_router_response_time_ms"].append(f'{{{labels},quantile="{quantile}"}} {value}')
    samples["wharf_router_bytes_per_minute"].append(f"{{{labels}}} {point.bytes}")
    for code, errors in point.errors.items():
        samples["wharf_router_errors_per_minute"].append(f'{{{labels},code="{_label(code)}"}} {errors}')
    for metric, measured in (
        ("wharf_dyno_memory_rss_mb", point.memory_rss_mb),
        ("wharf_dyno_memory_limit_mb", point.memory_limit_mb),
        ("wharf_dyno_swap_mb", point.swap_mb),
        ("wharf_dyno_cpu_percent", point.cpu_percent),
    ):
        if measured is not None:
            samples[metric].append(f"{{{labels}}} {measured}")
    samples["wharf_dyno_restarts_per_minute"].append(f"{{{labels}}} {point.restarts}")
