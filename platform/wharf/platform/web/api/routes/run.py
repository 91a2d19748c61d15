"""`wharf run`: a one-off dyno attached to the client over a WebSocket.

Protocol. The upgrade request carries the token; a caller who may not run on the app, or who has
reached the session cap, gets a plain HTTP answer (401, 404, 429, 503) with the usual JSON error.
Then the client sends `{"command", "size", "tty", "rows", "columns"}`; the server answers
`{"dyno": "run.4821"}` once the dyno runs. Binary frames from the client are the dyno's input; text
frames are control (`{"resize": [rows, columns]}`, `{"eof": true}`). Binary frames from the server
are output: with a TTY the terminal's bytes as they are; without one (`"tty": false`) each frame
starts with one byte naming the stream (1 stdout, 2 stderr). The server ends with `{"exit": code}`
or `{"error": message}` and closes.

A client that goes away ends its dyno; so do a revoked token, a lost app and an hour without input or
output. Sessions wait in the event loop, never on the API's request threads (see session_pools.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass
from typing import Any

import anyio
import docker.errors
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse

from wharf.platform.actions import dynos
from wharf.platform.actions.accounts import user_for_token
from wharf.platform.actions.apps import get_owned_app
from wharf.platform.db import session_scope
from wharf.platform.errors import BadRequest, TooManyRequests, Unauthorized, WharfError
from wharf.platform.runtime.base import SIZES, AttachedDyno, InteractiveRuntime, WharfRuntimeError
from wharf.platform.scheduler.desired import ReleaseTarget
from wharf.platform.scheduler.dynos import LAUNCHER, oneoff_spec
from wharf.platform.web.context import ApiContext
from wharf.platform.web.deps import token_from_header
from wharf.platform.web.session_pools import SessionPool

router = APIRouter(tags=["dynos"])

FIRST_MESSAGE_SECONDS = 30.0
RECHECK_SECONDS = 30.0
IDLE_SECONDS = 3600.0
MAX_COMMAND_CHARS = 16384
MAX_TERMINAL_SIDE = 10000


@dataclass(frozen=True)
class SessionRequest:
    command: str
    size: str
    tty: bool
    rows: int | None
    columns: int | None


def parse_request(raw: Any) -> SessionRequest:
    """The client's first message, checked; older clients send no `tty` and always had one."""
    if not isinstance(raw, dict) or not isinstance(raw.get("command"), str) or not raw["command"].strip():
        raise BadRequest("Say what to run: wharf run -a APP -- COMMAND", error_id="invalid_request")
    command = raw["command"]
    if len(command) > MAX_COMMAND_CHARS:
        raise BadRequest(f"The command is longer than {MAX_COMMAND_CHARS} characters; put it in a script.")
    size = str(raw.get("size") or "basic")
    if size not in SIZES:
        raise BadRequest(f"Unknown dyno size {size!r}: choose one of {', '.join(SIZES)}.")
    return SessionRequest(
        command=command,
        size=size,
        tty=bool(raw.get("tty", True)),
        rows=_terminal_side(raw.get("rows")),
        columns=_terminal_side(raw.get("columns")),
    )


def _terminal_side(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_TERMINAL_SIDE:
        return value
    return None


def _authorize(context: ApiContext, secret: str | None, app_name: str) -> tuple[int, ReleaseTarget]:
    """The caller's user id and the app's current release; raised errors say why not."""
    if secret is None:
        raise Unauthorized("Log in first: run `wharf login`.")
    with session_scope(context.database_url) as session:
        found = user_for_token(session=session, secret=secret)
        if found is None:
            raise Unauthorized(
                "Invalid credentials provided. Run `wharf login` again.", error_id="invalid_token"
            )
        app = get_owned_app(session=session, user=found[0], name=app_name)
        return found[0].id, dynos.current_release_target(session, context.cipher, app)


def _start(
    context: ApiContext, app_name: str, release: ReleaseTarget, request: SessionRequest
) -> AttachedDyno:
    runtime = dynos.runtime_for(context.settings)
    if not isinstance(runtime, InteractiveRuntime):
        raise WharfError("This platform's runtime cannot attach a client: use `wharf run --detach`.")
    spec = oneoff_spec(app_name, release, request.command, size=request.size, launcher=LAUNCHER)
    try:
        runtime.ensure_network(app_name)
        attached = runtime.start_attached(spec, tty=request.tty)
    except (WharfRuntimeError, docker.errors.APIError) as error:
        raise WharfError(f"The dyno could not start ({error}). Try again in a minute.") from error
    if request.tty and request.rows and request.columns:
        attached.resize(request.rows, request.columns)
    return attached


async def _deny(websocket: WebSocket, error: WharfError) -> None:
    headers = {"Retry-After": str(error.retry_after)} if isinstance(error, TooManyRequests) else {}
    response = JSONResponse(
        {"id": error.error_id, "message": error.message}, status_code=error.status_code, headers=headers
    )
    await websocket.send_denial_response(response)


async def _finish(websocket: WebSocket, message: dict[str, Any]) -> None:
    """The last word to a client that may already be gone."""
    with contextlib.suppress(Exception):
        await websocket.send_json(message)
        await websocket.close()


class Relay:
    """Output to the client, input to the dyno, and a watchdog; the first of them to end ends the session."""

    def __init__(self, websocket: WebSocket, attached: AttachedDyno, pool: SessionPool) -> None:
        self.websocket = websocket
        self.attached = attached
        self.pool = pool
        self.last_activity = time.monotonic()

    async def output(self) -> None:
        while chunk := await self.attached.read():
            stream, data = chunk
            await self.websocket.send_bytes(data if self.attached.tty else bytes([stream]) + data)
            self.last_activity = time.monotonic()

    async def input(self) -> None:
        """Until the client goes away; after its end of input it may still resize or disconnect."""
        ended = False
        while True:
            message = await self.websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            self.last_activity = time.monotonic()
            if message.get("bytes"):
                if not ended:
                    await self.attached.write(message["bytes"])
                continue
            control = _control(message.get("text"))
            if control.get("eof") and not ended:
                ended = True
                await self.attached.close_stdin()
            resize = control.get("resize")
            if isinstance(resize, list) and len(resize) == 2:
                rows, columns = (_terminal_side(side) for side in resize)
                if rows and columns:
                    await self.pool.run(self.attached.resize, rows, columns)

    async def watchdog(self, recheck: Any) -> str:
        """Why the session must end: the caller lost access, or nothing moved for an hour."""
        while True:
            await asyncio.sleep(RECHECK_SECONDS)
            if time.monotonic() - self.last_activity > IDLE_SECONDS:
                return f"The session ended after {IDLE_SECONDS / 60:.0f} minutes without input or output."
            try:
                await self.pool.run(recheck)
            except WharfError as error:
                return error.message


def _control(text: str | None) -> dict[str, Any]:
    try:
        control = json.loads(text or "{}")
    except ValueError:
        return {}
    return control if isinstance(control, dict) else {}


async def _relay(relay: Relay, recheck: Any) -> None:
    output = asyncio.create_task(relay.output())
    watchdog = asyncio.create_task(relay.watchdog(recheck))
    tasks = {output, asyncio.create_task(relay.input()), watchdog}
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    if output in done and output.exception() is None:
        code = await relay.pool.run(relay.attached.wait)
        await _finish(relay.websocket, {"exit": code})
    elif watchdog in done and not watchdog.cancelled():
        await _finish(relay.websocket, {"error": watchdog.result()})
    # Otherwise the client went away: there is no one to tell.


async def _serve(
    websocket: WebSocket, context: ApiContext, app_name: str, release: ReleaseTarget, secret: str | None
) -> None:
    pool = context.run_sessions
    try:
        first = await asyncio.wait_for(websocket.receive_json(), FIRST_MESSAGE_SECONDS)
        request = parse_request(first)
        attached = await pool.run(_start, context, app_name, release, request)
    except WharfError as error:
        await _finish(websocket, {"error": error.message})
        return
    except ValueError as error:
        await _finish(websocket, {"error": f"Could not start the dyno: {error}"})
        return
    except (TimeoutError, WebSocketDisconnect, RuntimeError):
        await _finish(websocket, {"error": "No command arrived; the session is closed."})
        return
    try:
        await attached.open()
        await websocket.send_json({"dyno": attached.name})
        await _relay(Relay(websocket, attached, pool), lambda: _authorize(context, secret, app_name))
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass
    finally:
        with anyio.CancelScope(shield=True):
            await attached.close()
            await pool.run(attached.remove)


@router.websocket("/apps/{app_name}/run")
async def run_attached(websocket: WebSocket, app_name: str) -> None:
    context: ApiContext = websocket.app.state.context
    pool = context.run_sessions
    secret = token_from_header(websocket.headers.get("authorization"))
    with contextlib.ExitStack() as session_slot:
        try:
            user_id, release = await pool.run(_authorize, context, secret, app_name)
            session_slot.enter_context(pool.slot(user_id))
        except WharfError as error:
            await _deny(websocket, error)
            return
        await websocket.accept()
        await _serve(websocket, context, app_name, release, secret)
