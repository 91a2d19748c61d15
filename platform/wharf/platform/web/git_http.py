"""The smart-HTTP git endpoint `/git/<app>.git`, served by real git in stateless-RPC mode.

Requests authenticate with HTTP basic (any user name, the API token as password), which git takes from
~/.netrc. The request body is spooled to a file first, then git's answer is streamed back as it is
produced, so the build output from the pre-receive hook reaches the pusher while the build runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO, Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from redis.exceptions import LockError
from redis.lock import Lock

from wharf.platform.actions.roles import MEMBER, require_role
from wharf.platform.errors import BadRequest, WharfError
from wharf.platform.git.receive import (
    PushCommands,
    read_commands,
    rebase_onto_current_refs,
    side_band_message,
)
from wharf.platform.models import ApiToken, App, User
from wharf.platform.repos import ensure_repo
from wharf.platform.web.deps import ContextDep, CurrentTokenDep, CurrentUser, MemberApp, SessionDep, ViewerApp

router = APIRouter(prefix="/git", tags=["git"], include_in_schema=True)
Service = Literal["git-upload-pack", "git-receive-pack"]
CHUNK = 64 * 1024
# Long enough for a build at its time limit, its release image and the deploy.
PUSH_LOCK_SECONDS = 45 * 60


def push_lock_name(app_name: str) -> str:
    return f"wharf:push-lock:{app_name}"


class PushTooLarge(WharfError):
    status_code = 413
    error_id = "push_too_large"


def _pkt_line(text: str) -> bytes:
    data = text.encode()
    return f"{len(data) + 4:04x}".encode() + data


def _git_env(
    app: App, user: User, context_env: dict[str, str], token: ApiToken | None = None
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(context_env)
    env.update(WHARF_APP=app.name, WHARF_PUSHER_ID=str(user.id), GIT_HTTP_EXPORT_ALL="1")
    if token is not None:
        # The hook re-checks these while it relays the build, so a revoked token stops the stream.
        env.update(WHARF_PUSH_TOKEN_ID=str(token.id), WHARF_APP_ID=str(app.id))
    return env


async def _spool_body(request: Request, limit: int) -> IO[bytes]:
    spool = tempfile.TemporaryFile()  # noqa: SIM115  (handed to git as its stdin, closed after)
    inflater = (
        zlib.decompressobj(16 + zlib.MAX_WBITS) if request.headers.get("content-encoding") == "gzip" else None
    )
    size = 0
    async for chunk in request.stream():
        data = inflater.decompress(chunk) if inflater else chunk
        size += len(data)
        if size > limit:
            spool.close()
            raise PushTooLarge(
                f"This push is larger than the {limit // 2**20} MB limit. Push less at a time."
            )
        spool.write(data)
    if inflater:
        spool.write(inflater.flush())
    spool.seek(0)
    return spool


async def _stream_git(argv: list[str], env: dict[str, str], stdin: IO[bytes] | None) -> AsyncIterator[bytes]:
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=stdin if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        env=env,
    )
    assert process.stdout is not None
    try:
        while chunk := await process.stdout.read(CHUNK):
            yield chunk
        await process.wait()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        if stdin is not None:
            stdin.close()


def _repo_for(app: App, context: ContextDep) -> str:
    settings = context.settings
    return str(
        ensure_repo(
            data_dir=settings.wharf_data_dir, app_name=app.name, max_push_bytes=settings.wharf_max_push_bytes
        )
    )


def _context_env(context: ContextDep) -> dict[str, str]:
    return {"WHARF_DATA_DIR": str(context.settings.wharf_data_dir)}


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
    repo = _repo_for(app, context)
    argv = ["git", service.removeprefix("git-"), "--stateless-rpc", "--advertise-refs", repo]

    async def body() -> AsyncIterator[bytes]:
        yield _pkt_line(f"# service={service}\n") + b"0000"
        async for chunk in _stream_git(argv, _git_env(app, user, _context_env(context)), None):
            yield chunk

    return StreamingResponse(
        body(), media_type=f"application/x-{service}-advertisement", headers={"Cache-Control": "no-cache"}
    )


async def _serialized_receive(
    argv: list[str],
    env: dict[str, str],
    spool: IO[bytes],
    push: PushCommands,
    repo: Path,
    app: App,
    context: ContextDep,
) -> AsyncIterator[bytes]:
    """Run receive-pack holding the app's push lock, so pushes to one app build one at a time."""
    # Acquired and released from worker threads, so the token cannot live in thread-local storage.
    lock = context.redis.lock(push_lock_name(app.name), timeout=PUSH_LOCK_SECONDS, thread_local=False)
    if not await asyncio.to_thread(lock.acquire, blocking=False):
        if push.side_band:
            yield side_band_message(f"-----> Another push to {app.name} is building; this one waits for it\n")
        await asyncio.to_thread(lock.acquire, blocking=True, blocking_timeout=PUSH_LOCK_SECONDS)
    try:
        rebased = await asyncio.to_thread(rebase_onto_current_refs, spool, repo)
        async for chunk in _stream_git(argv, env, rebased):
            yield chunk
    finally:
        await asyncio.to_thread(_release, lock)


def _release(lock: Lock) -> None:
    with contextlib.suppress(LockError):
        lock.release()


async def _rpc(
    service: Service,
    request: Request,
    app: App,
    user: User,
    context: ContextDep,
    token: ApiToken | None = None,
) -> StreamingResponse:
    repo = _repo_for(app, context)
    # git enforces the limit with a clear message; this cap only protects the disk from a runaway body.
    spool = await _spool_body(request, context.settings.wharf_max_push_bytes * 2 + 16 * 2**20)
    argv = ["git", service.removeprefix("git-"), "--stateless-rpc", repo]
    env = _git_env(app, user, _context_env(context), token)
    if service == "git-receive-pack":
        stream = _serialized_receive(argv, env, spool, read_commands(spool), Path(repo), app, context)
    else:
        stream = _stream_git(argv, env, spool)
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
