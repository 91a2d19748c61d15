"""`wharf logs`: an app's log as server-sent events (see `web/log_events.py` for the format)."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Header, Query
from fastapi.responses import StreamingResponse

from wharf.platform.errors import BadRequest
from wharf.platform.web.deps import AppDep, ContextDep
from wharf.platform.web.log_events import MAX_NUM, log_event_stream

# A Redis stream id: milliseconds and a sequence number, each below 2**64.
STREAM_ID = re.compile(r"\d{1,19}-\d{1,19}")

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
    if last_event_id is not None and not STREAM_ID.fullmatch(last_event_id):
        raise BadRequest(
            "Last-Event-ID must be the id of a log event this stream sent, like 1700000000000-0.",
            error_id="invalid_last_event_id",
        )
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
