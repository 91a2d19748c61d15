"""API metering: auth:usage."""

from __future__ import annotations

from typing import Any, cast

import typer

from wharf.cli import output, session
from wharf.cli.registry import add_command
from wharf.cli.resolve import JsonOption


def usage(json: JsonOption = False) -> None:
    """Your API calls, git requests and log tails per day (last 30 days), and the hourly limits."""
    with session.authenticated_client() as client:
        found = cast(dict[str, Any], client.request("GET", "/account/usage"))
    if json:
        output.print_json(found)
        return
    limits = found["limits"]
    output.header(f"Limits per {limits['window_seconds']} seconds, refilled continuously")
    output.key_values(
        [
            ("API calls", str(limits["api"])),
            ("Git requests", str(limits["git"])),
            ("Log tails", str(limits["logs"])),
        ]
    )
    output.line()
    output.header("Requests per day (UTC)")
    rows = [["DATE", "API", "GIT", "LOGS", "TOTAL"]]
    rows += [
        [day["date"], str(day["api"]), str(day["git"]), str(day["logs"]), str(day["total"])]
        for day in found["days"]
        if day["total"]
    ]
    if len(rows) == 1:
        output.line("No requests in the last 30 days.")
        return
    output.table(rows)


def register(app: typer.Typer) -> None:
    add_command(app, "auth:usage", usage)
