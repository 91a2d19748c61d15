"""The smart-HTTP git endpoint `/git/<app>.git`, served by real git in stateless-RPC mode.

Requests authenticate with HTTP basic (any user name, the API token as password), which git takes from
~/.netrc. The request body is spooled to a file first, then git's answer is streamed back as it is
produced, so the build output from the pre-receive hook reaches the pusher while the build runs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from wharf.platform.actions.roles import MEMBER, require_role
from wharf.platform.errors import BadRequest
from wharf.platform.git.service import (
    PUSH_LOCK_SECONDS,
    PushTooLarge,
    Service,
    advertise_refs,
    git_env,
    push_lock_name,
    serve_rpc,
    spool_chunks,
    spool_limit,
)
from wharf.platform.models import ApiToken, App, User
from wharf.platform.web.deps import ContextDep, CurrentTokenDep, CurrentUser, MemberApp, SessionDep, ViewerApp

router = APIRouter(prefix="/git", tags=["git"], include_in_schema=True)
__all__ = ["PUSH_LOCK_SECONDS", "PushTooLarge", "push_lock_name", "router"]


def _pkt_line(text: str) -> bytes:
    data = text.encode()
    return f"{len(data) + 4:04x}".encode() + data


@router.get("/{app_name}.git/info/refs")
async def info_refs(
    app: ViewerApp,
    user: CurrentUser,
    session: SessionDep,
    context: ContextDep,
    service: Annotated[str, Query()] = "",
) -> StreamingResponse:
    if service not in ("git-upload-pack", "git-receive-pack"):
        raise BadRequest("Only smart HTTP is served: use a git client of version 1.6.6 or newer.")
    if service == "git-receive-pack":
        # Viewers may fetch; pushing (which deploys) is for members, refused before git says a word.
        require_role(session, user=user, app=app, needed=MEMBER)
    chosen: Service = "git-upload-pack" if service == "git-upload-pack" else "git-receive-pack"
    refs = advertise_refs(
        chosen, app=app, env=git_env(app, user, context.settings), settings=context.settings
    )

    async def body() -> AsyncIterator[bytes]:
        yield _pkt_line(f"# service={service}\n") + b"0000"
        async for chunk in refs:
            yield chunk

    return StreamingResponse(
        body(), media_type=f"application/x-{service}-advertisement", headers={"Cache-Control": "no-cache"}
    )


async def _rpc(
    service: Service,
    request: Request,
    app: App,
    user: User,
    context: ContextDep,
    token: ApiToken | None = None,
) -> StreamingResponse:
    gzip = request.headers.get("content-encoding") == "gzip"
    spool = await spool_chunks(request.stream(), spool_limit(context.settings), gzip=gzip)
    env = git_env(app, user, context.settings, token)
    stream = serve_rpc(service, spool, app=app, env=env, settings=context.settings, client=context.redis)
    return StreamingResponse(
        stream, media_type=f"application/x-{service}-result", headers={"Cache-Control": "no-cache"}
    )


@router.post("/{app_name}.git/git-upload-pack")
async def upload_pack(
    request: Request, app: ViewerApp, user: CurrentUser, context: ContextDep
) -> StreamingResponse:
    return await _rpc("git-upload-pack", request, app, user, context)


@router.post("/{app_name}.git/git-receive-pack")
async def receive_pack(
    request: Request, app: MemberApp, current: CurrentTokenDep, context: ContextDep
) -> StreamingResponse:
    user, token = current
    return await _rpc("git-receive-pack", request, app, user, context, token)
