"""`wharfd status`: every component, for people and outside monitors."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from wharf.platform.wharfd_cli.common import _settings, console

if TYPE_CHECKING:
    pass


def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print the status as JSON.")] = False,
) -> None:
    """Every component with pid, uptime and last error; exit 0 OK, 1 WARNING, 2 CRITICAL."""
    from wharf.platform.operations import VERDICTS, collect_status

    settings = _settings()
    report = collect_status(settings)
    if as_json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        from rich.table import Table

        table = Table("component", "state", "pid", "uptime", "restarts", "last error")
        for c in report.components:
            uptime = "" if c.uptime_seconds is None else f"{c.uptime_seconds}s"
            table.add_row(c.name, c.state, str(c.pid or ""), uptime, str(c.restarts), c.last_error or "")
        console.print(table)
        for check in report.checks:
            console.print(f"{VERDICTS[check.verdict]:8} {check.name}: {check.detail}", markup=False)
        console.print(f"status: {VERDICTS[report.verdict]}")
    raise typer.Exit(report.verdict)
