"""`wharf logs`: an app's log, the newest lines and (with --tail) everything after, live.

The API streams server-sent events; with --tail a dropped connection is picked up again from the
last line seen (Last-Event-ID), so following survives an API restart as well as deploys.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from typing import Annotated, Any
from urllib.parse import quote

import httpx
import typer

from wharf.cli import gitrepo, session, settings
from wharf.cli.client import USER_AGENT, error_from_response
from wharf.cli.errors import ApiUnreachableError, WharfError
from wharf.cli.registry import add_command
from wharf.cli.resolve import AppOption, RemoteOption, resolve_app

SOURCES = ("app", "router", "api", "build", "heroku")
ORIGIN = {"router": "heroku", "heroku": "heroku"}
RECONNECT_DELAYS = (0.5, 1.0, 2.0, 5.0)


def render(entry: dict[str, Any]) -> str:
    """`2026-11-27T18:00:00.123456+00:00 app[web.1]: listening on 5000`, as Heroku prints it."""
    source = str(entry.get("source", "app"))
    return (
        f"{entry.get('ts', '')} {ORIGIN.get(source, 'app')}[{entry.get('dyno', '')}]: {entry.get('line', '')}"
    )


def parse_events(lines: Iterator[str]) -> Iterator[tuple[str | None, dict[str, Any]]]:
    """Server-sent events to `(id, data)`; comments (keepalives) and unknown fields are skipped."""
    event_id: str | None = None
    data: list[str] = []
    for raw in lines:
        line = raw.rstrip("\r")
        if not line:
            if data:
                yield event_id, json.loads("\n".join(data))
            event_id, data = None, []
        elif line.startswith("id:"):
            event_id = line[3:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
    if data:
        yield event_id, json.loads("\n".join(data))


def _open_stream(
    client: httpx.Client, path: str, params: dict[str, str], last_id: str | None
) -> Iterator[tuple[str | None, dict[str, Any]]]:
    headers = {"Last-Event-ID": last_id} if last_id else {}
    with client.stream("GET", path, params=params, headers=headers) as response:
        if response.status_code >= 400:
            response.read()
            raise error_from_response(response)
        yield from parse_events(response.iter_lines())


def stream_log(name: str, params: dict[str, str], follow: bool) -> Iterator[dict[str, Any]]:
    """Every log entry the API sends; reconnects while following."""
    url = settings.api_url()
    token = settings.require_credentials(url).token
    headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream", "User-Agent": USER_AGENT}
    timeout = httpx.Timeout(30.0, read=None if follow else 60.0)
    path = f"/api/apps/{quote(name, safe='')}/logs"
    last_id: str | None = None
    failures = 0
    verify = settings.tls_context()
    with httpx.Client(
        base_url=url, headers=headers, timeout=timeout, transport=session.transport, verify=verify
    ) as client:
        while True:
            try:
                for event_id, entry in _open_stream(client, path, params, last_id):
                    last_id, failures = event_id or last_id, 0
                    yield entry
            except httpx.TransportError as error:
                if not follow:
                    raise ApiUnreachableError(f"Could not read the log from {url}: {error}") from error
                time.sleep(RECONNECT_DELAYS[min(failures, len(RECONNECT_DELAYS) - 1)])
                failures += 1
                continue
            if not follow:
                return


def logs(
    app: AppOption = None,
    remote: RemoteOption = gitrepo.DEFAULT_REMOTE,
    num: Annotated[int, typer.Option("--num", "-n", help="Number of lines to display.")] = 100,
    tail: Annotated[
        bool, typer.Option("--tail", "-t", help="Keep printing new lines as they arrive.")
    ] = False,
    source: Annotated[str | None, typer.Option("--source", "-s", help="app, router, api or build.")] = None,
    dyno: Annotated[
        str | None, typer.Option("--dyno", "-d", help="Only this dyno (web.1) or type (web).")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Display recent log output (dynos, router, builds and platform events)."""
    name = resolve_app(app, remote)
    if source is not None and source not in SOURCES:
        raise WharfError(f"Unknown source {source}: use one of {', '.join(SOURCES)}.")
    if num < 0:
        raise WharfError("--num must be 0 or more.")
    params = {"num": str(num), "tail": "1" if tail else "0"}
    params.update({key: value for key, value in (("source", source), ("dyno", dyno)) if value})
    try:
        for entry in stream_log(name, params, follow=tail):
            sys.stdout.write((json.dumps(entry) if json_output else render(entry)) + "\n")
            sys.stdout.flush()
    except KeyboardInterrupt:
        return


def register(app: typer.Typer) -> None:
    add_command(app, "logs", logs)
