"""`wharf logs`: an app's log as server-sent events (see `web/log_events.py` for the format)."""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse

from wharf.platform.actions.apps import may_still_read
from wharf.platform.web.deps import AppDep, ContextDep, CurrentTokenDep, token_from_header
from wharf.platform.web.log_events import MAX_NUM, TailHolder, log_event_stream

router = APIRouter(prefix="/apps/{app_name}/logs", tags=["logs"])


@router.get("")
def stream_logs(
    request: Request,
    app: AppDep,
    current: CurrentTokenDep,
    context: ContextDep,
    num: Annotated[int, Query(ge=0, le=MAX_NUM)] = 100,
    tail: bool = False,
    source: str | None = None,
    dyno: str | None = None,
    last_event_id: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    return log_event_stream(
        client=context.redis,
        tails=context.log_tails,
        holder=TailHolder(
            user_id=current[0].id,
            still_allowed=partial(
                may_still_read,
                database_url=context.database_url,
                token_secret=token_from_header(request.headers.get("authorization")) or "",
                app_id=app.id,
            ),
        ),
        app_name=app.name,
        num=num,
        tail=tail,
        source=source,
        dyno=dyno,
        last_event_id=last_event_id,
    )
