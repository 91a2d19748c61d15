"""A statsd listener (UDP, the statsd line protocol) whose series belong to the app that sent them.

The app is decided by the packet's source address: the address of a running dyno on its app's
network (dynos drop every capability, so they cannot forge one). A name in the packet never selects
an app: `myapp.requests` sent by another app's dyno counts in the sender's own series. Packets from
anywhere else are dropped. Everything is bounded: packet size, lines per packet, series per app and
minute, members of a set.

Per minute: counters are summed (after the sample rate), gauges keep the last value (`+N`/`-N` move
it), timers (`ms`, `h`, `d`) are kept as histograms and read back as their p95, sets count distinct
members.
"""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from wharf.platform.metrics.aggregate import DeltaBuffer
from wharf.platform.metrics.histogram import bucket_of
from wharf.platform.metrics.store import MetricsStore, minute_of

logger = logging.getLogger(__name__)

MAX_PACKET_BYTES = 8192
MAX_LINES_PER_PACKET = 100
MAX_SET_MEMBERS = 10_000
SERIES_NAME = re.compile(r"[A-Za-z0-9_.\-:]{1,128}")
KINDS = {"c": "c", "g": "g", "ms": "t", "h": "t", "d": "t", "s": "s"}


@dataclass(frozen=True)
class Sample:
    name: str
    kind: str  # c, g, t or s
    value: float
    member: str = ""
    rate: float = 1.0
    relative: bool = False


def parse_line(line: str) -> Sample | None:
    """One `name:value|type[|@rate][|#tags]` line; None when it is not valid statsd."""
    name, colon, rest = line.partition(":")
    if not colon or not SERIES_NAME.fullmatch(name):
        return None
    parts = rest.split("|")
    if len(parts) < 2 or parts[1] not in KINDS:
        return None
    kind = KINDS[parts[1]]
    raw, rate = parts[0], 1.0
    for extra in parts[2:]:
        if extra.startswith("@"):
            try:
                rate = float(extra[1:])
            except ValueError:
                return None
            if not 0 < rate <= 1:
                return None
    if kind == "s":
        return Sample(name, kind, 0.0, member=raw[:64]) if raw else None
    try:
        value = float(raw)
    except ValueError:
        return None
    if value != value or value in (float("inf"), float("-inf")):
        return None
    return Sample(name, kind, value, rate=rate, relative=kind == "g" and raw[:1] in "+-")


def parse_packet(data: bytes) -> list[Sample]:
    if len(data) > MAX_PACKET_BYTES:
        return []
    text = data.decode("utf-8", "replace")
    samples = []
    for line in text.split("\n")[:MAX_LINES_PER_PACKET]:
        sample = parse_line(line.strip())
        if sample is not None:
            samples.append(sample)
    return samples


class StatsdAggregator:
    """Adds samples to each app's current minute, with at most `max_series` names per app and minute."""

    def __init__(self, store: MetricsStore, *, max_series: int = 100, interval: float = 5.0) -> None:
        self.buffer = DeltaBuffer(store, interval=interval)
        self.max_series = max_series
        self._series: dict[tuple[str, int], set[str]] = {}
        self._gauges: dict[tuple[str, str], float] = {}
        self._sets: dict[tuple[str, int, str], set[str]] = {}
        self.dropped = 0

    def add(self, app: str, samples: list[Sample], now: float | None = None) -> None:
        minute = minute_of(time.time() if now is None else now)
        with self.buffer.locked():
            self._forget_before(minute)
            names = self._series.setdefault((app, minute), set())
            delta = self.buffer.delta(app, minute)
            if delta is None:
                return
            for sample in samples:
                if sample.name not in names:
                    if len(names) >= self.max_series:
                        self.dropped += 1
                        continue
                    names.add(sample.name)
                field = f"x|{sample.kind}|{sample.name}"
                if sample.kind == "c":
                    delta.add[field] += sample.value / sample.rate
                elif sample.kind == "g":
                    gauge = (app, sample.name)
                    value = self._gauges.get(gauge, 0.0) + sample.value if sample.relative else sample.value
                    self._gauges[gauge] = delta.last[field] = value
                elif sample.kind == "t":
                    delta.add[f"{field}|{bucket_of(sample.value)}"] += 1
                else:
                    members = self._sets.setdefault((app, minute, sample.name), set())
                    if len(members) < MAX_SET_MEMBERS:
                        members.add(sample.member)
                    delta.top(field, float(len(members)))

    def _forget_before(self, minute: int) -> None:
        for key in [key for key in self._series if key[1] < minute]:
            del self._series[key]
        for set_key in [key for key in self._sets if key[1] < minute]:
            del self._sets[set_key]
        if len(self._gauges) > 100_000:
            self._gauges.clear()


class StatsdListener:
    """Receives packets on `host:port`; `sender_app(address)` names the app of a source address."""

    def __init__(
        self,
        aggregator: StatsdAggregator,
        sender_app: Callable[[str], str | None],
        *,
        host: str = "0.0.0.0",  # noqa: S104  (packets from anything but a dyno are dropped)
        port: int = 8125,
    ) -> None:
        self.aggregator = aggregator
        self.sender_app = sender_app
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.settimeout(0.5)
        self.port = self.sock.getsockname()[1]
        self.received = 0
        self.refused = 0

    def serve(self, stop: threading.Event) -> None:
        self.aggregator.buffer.start(name="statsd-flush")
        try:
            while not stop.is_set():
                try:
                    data, (address, _) = self.sock.recvfrom(MAX_PACKET_BYTES + 1)
                except TimeoutError:
                    continue
                except OSError as error:
                    logger.warning("statsd receive failed: %s", error)
                    continue
                self.received += 1
                app = self.sender_app(address)
                if app is None:
                    self.refused += 1
                    continue
                samples = parse_packet(data)
                if samples:
                    self.aggregator.add(app, samples)
        finally:
            self.sock.close()
            self.aggregator.buffer.close()
