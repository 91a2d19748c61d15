"""Autoscaling: ps:autoscale [TYPE --min N --max M --p95 MS | TYPE --off], ps:autoscale:log."""

from __future__ import annotations

import re
from typing import Annotated, Any, cast
from urllib.parse import quote

import typer

from wharf.cli import gitrepo, output, session
from wharf.cli.errors import WharfError
from wharf.cli.registry import add_command
from wharf.cli.resolve import AppOption, JsonOption, RemoteOption, resolve_app

USAGE = "Usage: wharf ps:autoscale web --min 1 --max 10 --p95 300 (or wharf ps:autoscale web --off)."


def _path(app: str) -> str:
    return f"/apps/{quote(app, safe='')}/autoscale"


def parse_milliseconds(text: str) -> int:
    """`300`, `300ms` or `1.5s` as milliseconds."""
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s)?\s*", text)
    if found is None:
        raise WharfError(f"--p95 {text} is not a duration: give milliseconds like 300 or 300ms.")
    value = float(found.group(1)) * (1000 if found.group(2) == "s" else 1)
    return round(value)


def _show(name: str, json: bool) -> None:
    with session.authenticated_client() as client:
        rows = cast(list[dict[str, Any]], client.request("GET", _path(name)))
    if json:
        output.print_json(rows)
        return
    if not rows:
        output.line(f"{name} does not autoscale. {USAGE}")
        return
    output.header(f"{name} Autoscaling")
    table = [["Type", "Min", "Max", "p95 target", "Requests/min per dyno", "In flight per dyno"]]
    for row in rows:
        table.append(
            [
                str(row["type"]),
                str(row["min"]),
                str(row["max"]),
                f"{row['p95_ms']} ms",
                str(row.get("requests_per_dyno") or "-"),
                str(row.get("concurrency_per_dyno") or "-"),
            ]
        )
    output.table(table)


def autoscale(
    process_type: Annotated[
        str | None, typer.Argument(metavar="TYPE", help="The process type, e.g. web.")
    ] = None,
    app: AppOption = None,
    remote: RemoteOption = gitrepo.DEFAULT_REMOTE,
    minimum: Annotated[int | None, typer.Option("--min", help="Fewest dynos.")] = None,
    maximum: Annotated[int | None, typer.Option("--max", help="Most dynos.")] = None,
    p95: Annotated[str | None, typer.Option("--p95", help="p95 response time target, in ms.")] = None,
    rpm_per_dyno: Annotated[
        int | None, typer.Option("--rpm-per-dyno", help="Requests a minute one dyno serves at most.")
    ] = None,
    concurrency: Annotated[
        int | None,
        typer.Option("--concurrency", help="Requests in flight one dyno takes on average at most."),
    ] = None,
    off: Annotated[bool, typer.Option("--off", help="Stop autoscaling this type.")] = False,
    json: JsonOption = False,
) -> None:
    """Scale a process type on its p95 response time (and throughput or requests in flight per dyno),
    or show the settings."""
    name = resolve_app(app, remote)
    if process_type is None:
        settings = (minimum, maximum, p95, rpm_per_dyno, concurrency)
        if off or any(setting is not None for setting in settings):
            raise WharfError(f"Name the process type. {USAGE}")
        _show(name, json)
        return
    path = f"{_path(name)}/{quote(process_type, safe='')}"
    if off:
        with session.authenticated_client() as client:
            client.request("DELETE", path)
        output.line(f"Autoscaling of {process_type} on {name} is off; its dynos stay as they are.")
        return
    if minimum is None or maximum is None or p95 is None:
        raise WharfError(f"Give --min, --max and --p95. {USAGE}")
    body = {
        "min": minimum,
        "max": maximum,
        "p95_ms": parse_milliseconds(p95),
        "requests_per_dyno": rpm_per_dyno,
        "concurrency_per_dyno": concurrency,
    }
    with session.authenticated_client() as client:
        row = cast(dict[str, Any], client.request("PUT", path, body))
    if json:
        output.print_json(row)
        return
    in_flight = row.get("concurrency_per_dyno")
    limit = "" if in_flight is None else f" and at most {in_flight} requests in flight per dyno"
    output.line(
        f"Autoscaling {process_type} on {name} between {row['min']} and {row['max']} dynos "
        f"for a p95 under {row['p95_ms']} ms{limit}"
    )


def log(
    app: AppOption = None, remote: RemoteOption = gitrepo.DEFAULT_REMOTE, json: JsonOption = False
) -> None:
    """What the autoscaler changed, newest first."""
    name = resolve_app(app, remote)
    with session.authenticated_client() as client:
        events = cast(list[dict[str, Any]], client.request("GET", f"{_path(name)}/log"))
    if json:
        output.print_json(events)
        return
    if not events:
        output.line(f"The autoscaler has not scaled {name}.")
        return
    output.header(f"{name} Autoscaling events")
    for event in events:
        output.line(
            f"{output.format_time(event['created_at'])}  {event['type']} {event['from_quantity']} -> "
            f"{event['to_quantity']}  {event['reason']}"
        )


def register(app: typer.Typer) -> None:
    add_command(app, "ps:autoscale", autoscale)
    add_command(app, "ps:autoscale:log", log)
