"""Serving git for a push or a fetch, the same for every transport (smart HTTP and SSH).

The transport authenticates the caller, decides access with the app lookup every route uses, and hands
the request body here: it is spooled to a file under the push size cap, then git's answer (with the
pre-receive hook's build output) is streamed back as it is produced, holding the app's push lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import zlib
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path
from typing import IO, Literal

import redis
from redis.exceptions import LockError
from redis.lock import Lock

from wharf.platform.errors import WharfError
from wharf.platform.git.receive import (
    PushCommands,
    read_commands,
    rebase_onto_current_refs,
    side_band_message,
)
from wharf.platform.models import ApiToken, App, User
from wharf.platform.repos import ensure_repo
from wharf.platform.settings import Settings

Service = Literal["git-upload-pack", "git-receive-pack"]
CHUNK = 64 * 1024
# Long enough for a build at its time limit, its release image and the deploy.
PUSH_LOCK_SECONDS = 45 * 60


def push_lock_name(app_name: str) -> str:
    return f"wharf:push-lock:{app_name}"


class PushTooLarge(WharfError):
    status_code = 413
    error_id = "push_too_large"


def git_env(
    app: App, user: User, settings: Settings, token: ApiToken | None = None, key_id: int | None = None
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env["WHARF_DATA_DIR"] = str(settings.wharf_data_dir)
    env.update(WHARF_APP=app.name, WHARF_PUSHER_ID=str(user.id), GIT_HTTP_EXPORT_ALL="1")
    if token is not None:
        # The hook re-checks these while it relays the build, so a revoked token stops the stream.
        env.update(WHARF_PUSH_TOKEN_ID=str(token.id), WHARF_APP_ID=str(app.id))
    if key_id is not None:
        # Likewise for a push over SSH and the key it authenticated with.
        env.update(WHARF_PUSH_KEY_ID=str(key_id), WHARF_APP_ID=str(app.id))
    return env


def repo_for(app: App, settings: Settings) -> Path:
    return ensure_repo(
        data_dir=settings.wharf_data_dir, app_name=app.name, max_push_bytes=settings.wharf_max_push_bytes
    )


def spool_limit(settings: Settings) -> int:
    """git enforces the push limit with a clear message; this cap protects the disk from a runaway body."""
    return settings.wharf_max_push_bytes * 2 + 16 * 2**20


async def spool_chunks(chunks: AsyncIterable[bytes], limit: int, *, gzip: bool = False) -> IO[bytes]:
    spool = tempfile.TemporaryFile()  # noqa: SIM115  (handed to git as its stdin, closed after)
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS) if gzip else None
    size = 0
    async for chunk in chunks:
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


async def stream_git(argv: list[str], env: dict[str, str], stdin: IO[bytes] | None) -> AsyncIterator[bytes]:
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


async def serialized_receive(
    argv: list[str],
    env: dict[str, str],
    spool: IO[bytes],
    push: PushCommands,
    repo: Path,
    app: App,
    client: redis.Redis[bytes],
    hold: int = PUSH_LOCK_SECONDS,
) -> AsyncIterator[bytes]:
    """Run receive-pack holding the app's push lock, so pushes to one app build one at a time."""
    # Acquired and released from worker threads, so the token cannot live in thread-local storage.
    lock = client.lock(push_lock_name(app.name), timeout=hold, thread_local=False)
    if not await asyncio.to_thread(lock.acquire, blocking=False):
        if push.side_band:
            yield side_band_message(f"-----> Another push to {app.name} is building; this one waits for it\n")
        await asyncio.to_thread(lock.acquire, blocking=True, blocking_timeout=hold)
    try:
        rebased = await asyncio.to_thread(rebase_onto_current_refs, spool, repo)
        async for chunk in stream_git(argv, env, rebased):
            yield chunk
    finally:
        await asyncio.to_thread(_release, lock)


def _release(lock: Lock) -> None:
    with contextlib.suppress(LockError):
        lock.release()


def git_command(service: Service) -> list[str]:
    """git for SERVICE; receive-pack takes push options (`git push -o ci.skip`) for the hook."""
    options = ["-c", "receive.advertisePushOptions=true"] if service == "git-receive-pack" else []
    return ["git", *options, service.removeprefix("git-")]


def serve_rpc(
    service: Service,
    spool: IO[bytes],
    *,
    app: App,
    env: dict[str, str],
    settings: Settings,
    client: redis.Redis[bytes],
) -> AsyncIterator[bytes]:
    """git's answer to a spooled upload-pack or receive-pack request (stateless-RPC, as smart HTTP)."""
    repo = repo_for(app, settings)
    argv = [*git_command(service), "--stateless-rpc", str(repo)]
    if service == "git-receive-pack":
        # A push may also run the app's tests, for up to the operator's test time limit.
        hold = PUSH_LOCK_SECONDS + int(settings.wharf_test_timeout_seconds)
        # A body that is not git's protocol is refused (BadRequest) here, before any answer starts.
        push = read_commands(spool)
        return serialized_receive(argv, env, spool, push, repo, app, client, hold)
    return stream_git(argv, env, spool)


def advertise_refs(
    service: Service, *, app: App, env: dict[str, str], settings: Settings
) -> AsyncIterator[bytes]:
    repo = repo_for(app, settings)
    argv = [*git_command(service), "--stateless-rpc", "--advertise-refs", str(repo)]
    return stream_git(argv, env, None)
