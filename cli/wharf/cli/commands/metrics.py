"""App metrics: `wharf metrics [-a APP] [--type web] [--since 1h] [--json]`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any, cast
from urllib.parse import quote, urlencode

import typer

from wharf.cli import gitrepo, output, session
from wharf.cli.registry import add_command
from wharf.cli.resolve import AppOption, JsonOption, RemoteOption, resolve_app

SPARKS = "▁▂▃▄▅▆▇█"
WIDTH = 60

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


def _rows(points: list[dict[str, Any]]) -> list[list[str]]:
    series: list[tuple[str, Series, str]] = [
        ("requests", lambda p: p["requests"], ""),
        ("5xx", lambda p: p["status"]["5xx"], ""),
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
    rows = [["", f"last {min(len(points), WIDTH)} points", "now", "max"]]
    for label, read, unit in series:
        values = [read(point) for point in points]
        known = [v for v in values if v is not None]
        rows.append(
            [
                label,
                sparkline(values),
                _number(values[-1] if values else None, unit),
                _number(max(known, default=None), unit),
            ]
        )
    return rows


def metrics(
    app: AppOption = None,
    remote: RemoteOption = gitrepo.DEFAULT_REMOTE,
    process_type: Annotated[
        str | None, typer.Option("--type", help="One process type, such as web (default: all together).")
    ] = None,
    since: Annotated[str, typer.Option(help="How far back: 30m, 1h, 24h, up to 7d.")] = "30m",
    json: JsonOption = False,
) -> None:
    """Show an app's requests, response times, memory, CPU and statsd series, minute by minute."""
    name = resolve_app(app, remote)
    query = {"since": since, **({"type": process_type} if process_type else {})}
    with session.authenticated_client() as client:
        points = cast(
            list[dict[str, Any]],
            client.request("GET", f"/apps/{quote(name, safe='')}/metrics?{urlencode(query)}"),
        )
    if json:
        output.print_json(points)
        return
    label = f"{name} ({process_type})" if process_type else name
    output.header(f"Metrics of {label} since {since} ago")
    output.table(_rows(points))


def register(app: typer.Typer) -> None:
    add_command(app, "metrics", metrics)
