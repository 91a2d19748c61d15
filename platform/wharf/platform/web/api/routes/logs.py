"""`wharf logs`: an app's log as server-sent events (see `web/log_events.py` for the format)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query
from fastapi.responses import StreamingResponse

from wharf.platform.web.deps import AppDep, ContextDep
from wharf.platform.web.log_events import MAX_NUM, log_event_stream

router = APIRouter(prefix="/apps/{app_name}/logs", tags=["logs"])


@router.get("")
def stream_logs(
    app: AppDep,
    context: ContextDep,
    num: Annotated[int, Query(ge=0, le=MAX_NUM)] = 100,
    tail: bool = False,
    source: str | None = None,
    dyno: str | None = None,
    last_event_id: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    return log_event_stream(
        client=context.redis,
        redis_url=context.settings.resolved_redis_url,
        app_name=app.name,
        num=num,
        tail=tail,
        source=source,
        dyno=dyno,
        last_event_id=last_event_id,
    )
