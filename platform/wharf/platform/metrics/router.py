"""Router metrics from the router's log lines, counted in the sink that already receives each line.

`MeteredSink` wraps the router's log sink: every `(app, line)` it passes on is also counted for the
app's process type and minute (requests by status class, a timing histogram of `service=`, bytes,
H-codes). Reading the few fields costs a handful of string operations per line: the fields after
`dyno=` come last and in a fixed order, written by nginx, so no user-supplied text is parsed.
"""

from __future__ import annotations

import time

from wharf.platform.metrics.aggregate import DeltaBuffer
from wharf.platform.metrics.histogram import bucket_of
from wharf.platform.metrics.store import MetricsStore, minute_of
from wharf.router.logs import RouterLogSink

STATUS_FIELDS = {"2": "2xx", "3": "3xx", "4": "4xx", "5": "5xx"}


class RouterLine:
    """The fields metrics need from one router line, or None from `parse`."""

    __slots__ = ("bytes", "code", "process_type", "service_ms", "status")

    def __init__(self, process_type: str, code: str, service_ms: int | None, status: str, size: int) -> None:
        self.process_type = process_type
        self.code = code
        self.service_ms = service_ms
        self.status = status
        self.bytes = size

    @classmethod
    def parse(cls, line: str) -> RouterLine | None:
        at = line.rfind(" dyno=")
        if at < 0:
            return None
        values: dict[str, str] = {}
        for pair in line[at + 1 :].split(" "):
            key, _, value = pair.partition("=")
            values[key] = value
        code = ""
        if line.startswith(("at=error code=", "at=info code=")):
            code = line.split(" ", 2)[1][5:]
        dyno = values.get("dyno", "")
        service = values.get("service", "")
        try:
            service_ms = int(service[:-2]) if service.endswith("ms") else None
            size = int(values.get("bytes") or 0)
        except ValueError:
            return None
        return cls(dyno.partition(".")[0] or "web", code, service_ms, values.get("status", ""), size)


class RouterMetrics:
    """Counts router lines per app, process type and minute; `start()` flushes them every few seconds."""

    def __init__(self, store: MetricsStore, *, interval: float = 5.0) -> None:
        self.buffer = DeltaBuffer(store, interval=interval)

    def observe(self, app: str, line: str, now: float | None = None) -> None:
        parsed = RouterLine.parse(line)
        if parsed is None:
            return
        prefix = f"p|{parsed.process_type}|"
        with self.buffer.locked():
            delta = self.buffer.delta(app, minute_of(time.time() if now is None else now))
            if delta is None:
                return
            add = delta.add
            add[prefix + "req"] += 1
            status = STATUS_FIELDS.get(parsed.status[:1])
            if status is not None:
                add[prefix + status] += 1
            add[prefix + "bytes"] += parsed.bytes
            if parsed.code:
                add[f"{prefix}h|{parsed.code}"] += 1
            if parsed.service_ms is not None:
                add[f"{prefix}t|{bucket_of(parsed.service_ms)}"] += 1
                delta.top(prefix + "tmax", float(parsed.service_ms))

    def start(self) -> None:
        self.buffer.start(name="router-metrics")

    def close(self) -> None:
        self.buffer.close()


class MeteredSink:
    """A router log sink that also counts each line into router metrics."""

    def __init__(self, inner: RouterLogSink, metrics: RouterMetrics) -> None:
        self.inner = inner
        self.metrics = metrics

    def __call__(self, app: str, line: str) -> None:
        self.inner(app, line)
        self.metrics.observe(app, line)
