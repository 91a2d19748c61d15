"""Alerts: alerts, alerts:add KIND, alerts:remove ID."""

from __future__ import annotations

from typing import Annotated, Any, cast
from urllib.parse import quote

import typer

from wharf.cli import gitrepo, output, session
from wharf.cli.registry import add_command
from wharf.cli.resolve import AppOption, JsonOption, RemoteOption, resolve_app

KindArgument = Annotated[str, typer.Argument(help="crash, p95, errors, memory or deploy")]


def _path(app: str) -> str:
    return f"/apps/{quote(app, safe='')}/alerts"


def _threshold(alert: dict[str, Any]) -> str:
    value = alert.get("threshold")
    if value is None:
        return "-"
    number = f"{value:g}"
    return {"p95": f"{number} ms", "errors": f"{number} %", "memory": f"{number} %"}.get(
        str(alert["kind"]), number
    )


def list_alerts(
    app: AppOption = None, remote: RemoteOption = gitrepo.DEFAULT_REMOTE, json: JsonOption = False
) -> None:
    """List the alerts of an app, firing or ok."""
    name = resolve_app(app, remote)
    with session.authenticated_client() as client:
        alerts = cast(list[dict[str, Any]], client.request("GET", _path(name)))
    if json:
        output.print_json(alerts)
        return
    if not alerts:
        output.line(f"{name} has no alerts.")
        return
    output.header(f"{name} Alerts")
    rows = [["ID", "Kind", "Target", "Threshold", "For", "State", "Last fired"]]
    for alert in alerts:
        rows.append(
            [
                str(alert["id"]),
                str(alert["kind"]),
                str(alert["target"]),
                _threshold(alert),
                f"{alert['for']}m",
                str(alert["state"]),
                output.format_time(alert.get("last_fired")) or "never",
            ]
        )
    output.table(rows)


def add(
    kind: KindArgument,
    app: AppOption = None,
    remote: RemoteOption = gitrepo.DEFAULT_REMOTE,
    webhook: Annotated[str | None, typer.Option(help="POST a signed JSON body to this URL.")] = None,
    email: Annotated[str | None, typer.Option(help="Email this address.")] = None,
    threshold: Annotated[
        float | None, typer.Option(help="crash: restarts; p95: ms; errors: % 5xx; memory: % of the limit.")
    ] = None,
    for_minutes: Annotated[
        int | None, typer.Option("--for", help="Minutes the condition must hold before it fires.")
    ] = None,
    repeat: Annotated[int, typer.Option(help="Minutes between reminders while it keeps firing.")] = 60,
    json: JsonOption = False,
) -> None:
    """Be told (webhook or email) when an app crash-loops, slows down, fails requests or a deploy."""
    name = resolve_app(app, remote)
    body: dict[str, Any] = {"kind": kind, "webhook": webhook, "email": email, "repeat": repeat}
    if threshold is not None:
        body["threshold"] = threshold
    if for_minutes is not None:
        body["for"] = for_minutes
    with session.authenticated_client() as client:
        alert = cast(dict[str, Any], client.request("POST", _path(name), body))
    if json:
        output.print_json(alert)
        return
    output.line(f"Added alert {alert['id']}: {alert['kind']} on {name} to {alert['target']}")
    if alert.get("secret"):
        output.line(f"Webhook signing secret (shown once): {alert['secret']}")
        output.line("Each request carries Wharf-Signature: sha256=HMAC-SHA256(secret, body) in hex.")


def remove(
    alert_id: Annotated[int, typer.Argument(metavar="ID", help="The alert's id (see wharf alerts).")],
    app: AppOption = None,
    remote: RemoteOption = gitrepo.DEFAULT_REMOTE,
) -> None:
    """Remove an alert."""
    name = resolve_app(app, remote)
    with session.authenticated_client() as client:
        client.request("DELETE", f"{_path(name)}/{alert_id}")
    output.line(f"Removed alert {alert_id} from {name}")


def register(app: typer.Typer) -> None:
    add_command(app, "alerts", list_alerts)
    add_command(app, "alerts:add", add)
    add_command(app, "alerts:remove", remove)
