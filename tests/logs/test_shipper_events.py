"""The shipper's `heroku[web.1]: Starting process…`/`Process exited…` notes come from Docker's events, read
in windows between resyncs. Every event is noted exactly once: one published while the last window
was closing and the next not yet open, one the daemon did not send because its `until` timer won, and
one that happened while the shipper was restarting; the note carries the time of the event."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import redis

from wharf.platform.logs.docker_events import event_iso
from wharf.platform.logs.shipper import LogShipper
from wharf.platform.logs.stream import LogWriter, recent_lines
from wharf.platform.runtime.base import LABEL_APP, LABEL_DYNO, LABEL_PROCESS_TYPE

APP = "ticker"
DROPPED_BEFORE_UNTIL_NS = 3_000_000
CLOSES_LATE_NS = 20_000_000


def exit_event(at_ns: int, status: int) -> dict[str, Any]:
    labels = {LABEL_APP: APP, LABEL_PROCESS_TYPE: "web", LABEL_DYNO: "1", "exitCode": str(status)}
    return {
        "Type": "container",
        "Action": "die",
        "Actor": {"ID": f"container-{status}", "Attributes": labels},
        "time": at_ns // 1_000_000_000,
        "timeNano": at_ns,
    }


def nanoseconds(argument: str) -> int:
    return int(Decimal(argument) * 1_000_000_000)


class EngineEvents:
    """An engine's event log served as the daemon serves it. Events logged before the request come
    from its buffer; later ones are sent live as they happen, until `until`. One published in the last
    moments before `until` is not sent live (the daemon's timer fired first), and the stream ends a
    little after `until`. It lists no containers."""

    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.log = sorted(events, key=lambda event: int(event["timeNano"]))
        self.requests = 0

    def containers(self, **_: Any) -> list[dict[str, Any]]:
        return []

    def events_between(self, since: int, until: int) -> list[dict[str, Any]]:
        return [event for event in self.log if since <= int(event["timeNano"]) <= until]

    def events(self, *, since: str, until: str, filters: dict[str, Any], decode: bool) -> _Stream:
        assert decode and filters["event"] == ["start", "die"]
        self.requests += 1
        return _Stream(self, nanoseconds(since), nanoseconds(until), time.time_ns())


class _Stream:
    def __init__(self, engine: EngineEvents, since: int, until: int, asked: int) -> None:
        self.engine, self.since, self.until, self.asked = engine, since, until, asked
        self.closed = False

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for event in self.engine.events_between(self.since, self.until):
            at = int(event["timeNano"])
            if at >= self.asked:
                sleep_until(at)
                if at > self.until - DROPPED_BEFORE_UNTIL_NS:
                    continue
            if self.closed:
                return
            yield event
        sleep_until(self.until + CLOSES_LATE_NS)

    def close(self) -> None:
        self.closed = True


def sleep_until(at_ns: int) -> None:
    time.sleep(max(0.0, (at_ns - time.time_ns()) / 1e9))


class Running:
    def __init__(self, engine: EngineEvents, client: redis.Redis[bytes]) -> None:
        self.shipper = LogShipper(engine, LogWriter(client), resync_seconds=0.15)
        self.thread = threading.Thread(target=self.shipper.run, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.shipper.stop.set()
        self.thread.join(timeout=10)
        assert not self.thread.is_alive()


def exit_notes(client: redis.Redis[bytes]) -> list[tuple[str, str]]:
    lines = recent_lines(client, APP, num=1000, source="heroku")
    return [(line.line, line.ts) for line in lines]


def test_every_exit_is_noted_once_across_the_windows_between_resyncs(
    redis_client: redis.Redis[bytes],
) -> None:
    start = time.time_ns() + 100_000_000
    events = [exit_event(start + n * 7_000_000, n) for n in range(170)]
    engine = EngineEvents(events)
    running = Running(engine, redis_client)
    sleep_until(int(events[-1]["timeNano"]) + 400_000_000)
    running.stop()

    noted = [text for text, _ in exit_notes(redis_client)]
    expected = [f"Process exited with status {n}" for n in range(170)]
    assert engine.requests >= 6, "the events were read in several windows"
    missing = [line for line in expected if line not in noted]
    assert not missing, f"{len(missing)} exits not noted, first {missing[:3]}"
    assert sorted(noted) == sorted(expected), "each exit once"


def test_a_restarted_shipper_notes_what_happened_while_it_was_away_at_its_time(
    redis_client: redis.Redis[bytes],
) -> None:
    now = time.time_ns()
    before_any_shipper = exit_event(now - 500_000_000, 1)
    while_running = exit_event(now + 100_000_000, 2)
    while_away = exit_event(now + 600_000_000, 3)
    after_restart = exit_event(now + 1_000_000_000, 4)
    engine = EngineEvents([before_any_shipper, while_running, while_away, after_restart])

    first = Running(engine, redis_client)
    sleep_until(now + 300_000_000)
    first.stop()
    assert [text for text, _ in exit_notes(redis_client)] == ["Process exited with status 2"]

    sleep_until(now + 800_000_000)
    second = Running(engine, redis_client)
    sleep_until(now + 1_300_000_000)
    second.stop()

    assert exit_notes(redis_client) == [
        ("Process exited with status 2", event_iso(while_running)),
        ("Process exited with status 3", event_iso(while_away)),
        ("Process exited with status 4", event_iso(after_restart)),
    ], "the exit from before any shipper ran is not replayed; the one while it was away is, once"
