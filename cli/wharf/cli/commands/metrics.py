"""App metrics: `wharf metrics [-a APP] [--type web] [--since 1h] [--json]`.

The errors row counts the router's H-code errors and names the codes seen in the window with their totals.
The table's last row marks the app's events (deploys, restarts, dyno exits, scaling) on the same time
axis as the sparklines, and the events are listed below it; `--json` prints the points alone."""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, cast
from urllib.parse import quote, urlencode

import typer

from wharf.cli import gitrepo, output, session
from wharf.cli.registry import add_command
from wharf.cli.resolve import AppOption, JsonOption, RemoteOption, resolve_app

SPARKS = "▁▂▃▄▅▆▇█"
WIDTH = 60
# The mark of each event kind on the time axis; where a point has several, the first kind here wins.
EVENT_MARKS = {
    "crash": "x",
    "deploy-failed": "!",
    "deploy": "d",
    "restart": "r",
    "scale": "s",
    "autoscale": "a",
}
EVENTS_LISTED = 20

Series = Callable[[dict[str, Any]], float | None]


def sparkline(values: Sequence[float | None], width: int = WIDTH) -> str:
    """One character per point (the last `width`), scaled from zero to the largest value; blank: none."""
    values = list(values)[-width:]
    known = [v for v in values if v is not None]
    top = max(known, default=0.0)
    chars = []
    for value in values:
        if value is None:
            chars.append(" ")
        elif top <= 0:
            chars.append(SPARKS[0])
        else:
            chars.append(SPARKS[min(len(SPARKS) - 1, int(value / top * (len(SPARKS) - 1) + 0.5))])
    return "".join(chars)


def _number(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    return f"{value:.0f}{unit}" if abs(value) >= 10 or float(value).is_integer() else f"{value:.1f}{unit}"


def _custom(name: str) -> Series:
    return lambda point: point["custom"].get(name)


def _errors(point: dict[str, Any]) -> float | None:
    """A point's router H-code errors, all codes together (None from a server that does not count them)."""
    errors = point.get("errors")
    return None if errors is None else sum(errors.values())


def error_codes(points: Sequence[dict[str, Any]]) -> str:
    """The H-codes seen in the points with their totals, the most frequent first: `H12 3, H14 1`."""
    totals: Counter[str] = Counter()
    for point in points:
        totals.update(point.get("errors") or {})
    ranked = sorted(totals.items(), key=lambda item: (-item[1], item[0]))
    return ", ".join(f"{code} {count}" for code, count in ranked)


def _rows(points: list[dict[str, Any]]) -> list[list[str]]:
    """The table: a header, then per series its label, sparkline, latest value, maximum and a note."""
    series: list[tuple[str, Series, str]] = [
        ("requests", lambda p: p["requests"], ""),
        ("5xx", lambda p: p["status"]["5xx"], ""),
        ("errors", _errors, ""),
        ("p50", lambda p: p["p50_ms"], "ms"),
        ("p95", lambda p: p["p95_ms"], "ms"),
        ("p99", lambda p: p["p99_ms"], "ms"),
        ("max", lambda p: p["max_ms"], "ms"),
        ("memory", lambda p: p["memory_rss_mb"], "MB"),
        ("cpu", lambda p: p["cpu_percent"], "%"),
    ]
    names = sorted({name for point in points for name in point["custom"]})
    for name in names:
        series.append((name, _custom(name), ""))
    notes = {"errors": error_codes(points)}
    rows = [["", f"last {min(len(points), WIDTH)} points", "now", "max", ""]]
    for label, read, unit in series:
        values = [read(point) for point in points]
        known = [v for v in values if v is not None]
        rows.append(
            [
                label,
                sparkline(values),
                _number(values[-1] if values else None, unit),
                _number(max(known, default=None), unit),
                notes.get(label, ""),
            ]
        )
    return rows


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def event_marks(points: Sequence[dict[str, Any]], events: Sequence[dict[str, Any]]) -> str:
    """One character per point shown (as in `sparkline`): the mark of the events in its minute (or ten
    minutes), blank where nothing happened."""
    shown = list(points)[-WIDTH:]
    starts = [_epoch(point["time"]) for point in shown]
    found: list[set[str]] = [set() for _ in shown]
    for event in events:
        index = bisect.bisect_right(starts, _epoch(event["time"])) - 1
        if index >= 0:
            found[index].add(event["kind"])
    return "".join(
        next((mark for kind, mark in EVENT_MARKS.items() if kind in kinds), " ") for kinds in found
    )


def _event_lines(events: Sequence[dict[str, Any]]) -> list[str]:
    """The newest EVENTS_LISTED events, oldest first, with their time in UTC and their mark."""
    listed = list(events)[-EVENTS_LISTED:]
    lines = []
    if len(events) > len(listed):
        lines.append(f"({len(events) - len(listed)} earlier events not listed)")
    for event in listed:
        at = datetime.fromisoformat(event["time"]).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
        mark = EVENT_MARKS.get(event["kind"], "?")
        lines.append(f"{at}  {mark} {event['label']}: {event['message']}")
    return lines


def metrics(
    app: AppOption = None,
    remote: RemoteOption = gitrepo.DEFAULT_REMOTE,
    process_type: Annotated[
        str | None, typer.Option("--type", help="One process type, such as web (default: all together).")
    ] = None,
    since: Annotated[str, typer.Option(help="How far back: 30m, 1h, 24h, up to 7d.")] = "30m",
    json: JsonOption = False,
) -> None:
    """Show an app's requests, H-code errors, response times, memory, CPU and statsd series, minute by
    minute."""
    name = resolve_app(app, remote)
    query = {"since": since, **({"type": process_type} if process_type else {})}
    base = f"/apps/{quote(name, safe='')}/metrics"
    with session.authenticated_client() as client:
        points = cast(list[dict[str, Any]], client.request("GET", f"{base}?{urlencode(query)}"))
        if json:
            output.print_json(points)
            return
        events = cast(list[dict[str, Any]], client.request("GET", f"{base}/events?{urlencode(query)}"))
    label = f"{name} ({process_type})" if process_type else name
    output.header(f"Metrics of {label} since {since} ago")
    marks = ", ".join(f"{mark} {kind}" for kind, mark in EVENT_MARKS.items())
    output.table([*_rows(points), ["events", event_marks(points, events), "", "", ""]])
    output.line()
    output.header(f"Events since {since} ago (UTC; on the events row: {marks})")
    for text in _event_lines(events) or ["No events."]:
        output.line(text)


def register(app: typer.Typer) -> None:
    add_command(app, "metrics", metrics)
