"""`wharf logs`: an app's log as server-sent events (see `web/log_events.py` for the format).

The route is asynchronous and does its checks (token, app, tail lease) and reads the backlog in one
trip to a worker thread, holding a database connection only while that thread runs: a crowd of
tails can queue for threads, but never hold connections while waiting for one.
"""

from __future__ import annotations

import re
from functools import partial
from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse

from wharf.platform.actions.apps import get_owned_app, may_still_read
from wharf.platform.actions.roles import VIEWER
from wharf.platform.db import session_scope
from wharf.platform.errors import BadRequest
from wharf.platform.web.context import ApiContext
from wharf.platform.web.deps import ContextDep, get_current_token, token_from_header
from wharf.platform.web.log_events import MAX_NUM, LogQuery, TailHolder, log_event_stream

# A Redis stream id: milliseconds and a sequence number, each below 2**64.
STREAM_ID = re.compile(r"\d{1,19}-\d{1,19}")

router = APIRouter(prefix="/apps/{app_name}/logs", tags=["logs"])


def _open_stream(request: Request, context: ApiContext, app_name: str, query: LogQuery) -> StreamingResponse:
    with session_scope(context.database_url) as session:
        user, _token = get_current_token(request, session)
        app = get_owned_app(session=session, user=user, name=app_name, role=VIEWER)
        holder = TailHolder(
            user_id=user.id,
            still_allowed=partial(
                may_still_read,
                database_url=context.database_url,
                token_secret=token_from_header(request.headers.get("authorization")) or "",
                app_id=app.id,
            ),
        )
        name = app.name
    return log_event_stream(
        client=context.redis, tails=context.log_tails, holder=holder, app_name=name, query=query
    )


@router.get("")
async def stream_logs(
    app_name: str,
    request: Request,
    context: ContextDep,
    num: Annotated[int, Query(ge=0, le=MAX_NUM)] = 100,
    tail: bool = False,
    source: str | None = None,
    dyno: str | None = None,
    last_event_id: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    if last_event_id is not None and not STREAM_ID.fullmatch(last_event_id):
        raise BadRequest(
            "Last-Event-ID must be the id of a log event this stream sent, like 1700000000000-0.",
            error_id="invalid_last_event_id",
        )
    query = LogQuery(num=num, tail=tail, source=source, dyno=dyno, last_event_id=last_event_id)
    return await anyio.to_thread.run_sync(_open_stream, request, context, app_name, query)
