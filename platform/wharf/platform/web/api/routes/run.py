"""`wharf run`: a one-off dyno with a terminal, relayed over a WebSocket.

Protocol: the client sends `{"command", "rows", "columns", "size"}` first; then binary frames are
terminal input and output, text frames are control (`{"resize": [rows, columns]}`, `{"eof": true}`
from the client; `{"exit": code}` or `{"error": message}` from the server, which then closes).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool

from wharf.platform.actions import dynos
from wharf.platform.actions.accounts import user_for_token
from wharf.platform.actions.apps import get_owned_app
from wharf.platform.db import session_scope
from wharf.platform.errors import Unauthorized, WharfError
from wharf.platform.runtime.base import AttachedDyno, InteractiveRuntime
from wharf.platform.scheduler.desired import ReleaseTarget
from wharf.platform.scheduler.dynos import LAUNCHER, oneoff_spec
from wharf.platform.web.context import ApiContext
from wharf.platform.web.deps import token_from_header

router = APIRouter(tags=["dynos"])


def _authorize(context: ApiContext, authorization: str | None, app_name: str) -> ReleaseTarget:
    secret = token_from_header(authorization)
    with session_scope(context.database_url) as session:
        found = user_for_token(session=session, secret=secret) if secret else None
        if found is None:
            raise Unauthorized("Log in first: run `wharf login`.")
        app = get_owned_app(session=session, user=found[0], name=app_name)
        return dynos.current_release_target(session, context.cipher, app)


def _start(
    context: ApiContext, app_name: str, release: ReleaseTarget, request: dict[str, Any]
) -> AttachedDyno:
    runtime = dynos.runtime_for(context.settings)
    if not isinstance(runtime, InteractiveRuntime):
        raise WharfError("This platform's runtime cannot attach a terminal: use `wharf run --detach`.")
    runtime.ensure_network(app_name)
    spec = oneoff_spec(
        app_name,
        release,
        str(request["command"]),
        size=str(request.get("size") or "basic"),
        launcher=LAUNCHER,
    )
    attached = runtime.start_attached(spec)
    if request.get("rows") and request.get("columns"):
        attached.resize(int(request["rows"]), int(request["columns"]))
    return attached


async def _relay_output(websocket: WebSocket, attached: AttachedDyno) -> None:
    while chunk := await run_in_threadpool(attached.read):
        await websocket.send_bytes(chunk)


async def _relay_input(websocket: WebSocket, attached: AttachedDyno) -> None:
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect()
        if message.get("bytes"):
            await run_in_threadpool(attached.write, message["bytes"])
        elif message.get("text"):
            control_message = json.loads(message["text"])
            if control_message.get("eof"):
                await run_in_threadpool(attached.close_stdin)
            if control_message.get("resize"):
                rows, columns = control_message["resize"]
                await run_in_threadpool(attached.resize, int(rows), int(columns))


@router.websocket("/apps/{app_name}/run")
async def run_attached(websocket: WebSocket, app_name: str) -> None:
    context: ApiContext = websocket.app.state.context
    await websocket.accept()
    try:
        release = await run_in_threadpool(
            _authorize, context, websocket.headers.get("authorization"), app_name
        )
        request = await websocket.receive_json()
        attached = await run_in_threadpool(_start, context, app_name, release, request)
    except WharfError as error:
        await websocket.send_json({"error": error.message})
        await websocket.close()
        return
    inputs = asyncio.create_task(_relay_input(websocket, attached))
    try:
        await _relay_output(websocket, attached)
        code = await run_in_threadpool(attached.wait)
        await websocket.send_json({"exit": code})
        await websocket.close()
    except WebSocketDisconnect:
        pass
    finally:
        inputs.cancel()
        await run_in_threadpool(attached.remove)
