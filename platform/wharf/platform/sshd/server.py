"""An AsyncSSH server that runs git's push and fetch commands for a key's owner, and nothing else.

No shell, no PTY, no port, agent or X11 forwarding. A key authenticates its account; the app is looked
up with the same function as every route and the HTTP git endpoint (`get_owned_app`), and the request is
served by the same flow as smart HTTP (`wharf.platform.git.service`): spooled under the push size cap,
then run by receive-pack in stateless-RPC mode holding the app's push lock, with the hook's build output
streamed back as `remote:` lines. Each command counts against the account's git rate limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shlex
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncssh
import redis

from wharf.platform.actions.apps import get_owned_app
from wharf.platform.actions.roles import MEMBER, VIEWER
from wharf.platform.actions.ssh_keys import key_owner
from wharf.platform.db import session_scope
from wharf.platform.errors import WharfError
from wharf.platform.git.receive import ZERO
from wharf.platform.git.service import (
    CHUNK,
    Service,
    advertise_refs,
    git_env,
    repo_for,
    serve_rpc,
    spool_chunks,
    spool_limit,
)
from wharf.platform.metering.buckets import RateLimiter
from wharf.platform.models import App, User
from wharf.platform.security.names import APP_NAME
from wharf.platform.settings import Settings
from wharf.platform.sshd.host_key import ensure_host_key

logger = logging.getLogger(__name__)
SERVICES: tuple[Service, ...] = ("git-receive-pack", "git-upload-pack")
USAGE = "Only git is served here: git push ssh://git@HOST:PORT/APP.git main\n"
# Before a pack starts: the command lines and push options of one push.
MAX_COMMAND_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Identity:
    user_id: int
    key_id: int


class Refused(Exception):
    """Said to the client on stderr; the command exits 1."""


class GitServer(asyncssh.SSHServer):
    def __init__(self, database_url: str) -> None:
        self._database_url = database_url
        self._conn: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return False

    def public_key_auth_supported(self) -> bool:
        return True

    async def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        """The last key validated is the one that authenticates (asyncssh checks its signature after)."""
        identity = await asyncio.to_thread(self._lookup, key.get_fingerprint("sha256"))
        if self._conn is not None:
            self._conn.set_extra_info(wharf_identity=identity)
        return identity is not None

    def _lookup(self, fingerprint: str) -> Identity | None:
        with session_scope(self._database_url) as session:
            found = key_owner(session=session, fingerprint=fingerprint)
            return Identity(user_id=found[0].id, key_id=found[1].id) if found else None


def parse_command(command: str | None) -> tuple[Service, str]:
    """(service, app name) of `git-receive-pack '/APP.git'` or `git-upload-pack 'APP.git'`."""
    try:
        argv = shlex.split(command or "")
    except ValueError:
        argv = []
    if len(argv) != 2 or argv[0] not in SERVICES:
        raise Refused(USAGE)
    name = argv[1].strip("/").removesuffix(".git")
    if not APP_NAME.fullmatch(name):
        raise Refused(f"No app named {argv[1][:64]!r}: use ssh://git@HOST:PORT/APP.git\n")
    service: Service = "git-receive-pack" if argv[0] == "git-receive-pack" else "git-upload-pack"
    return service, name


async def _read_pkt(stdin: asyncssh.SSHReader[bytes]) -> bytes:
    header = await stdin.readexactly(4)
    length = int(header, 16)
    return header + (await stdin.readexactly(length - 4) if length > 4 else b"")


async def push_request(stdin: asyncssh.SSHReader[bytes]) -> AsyncIterator[bytes]:
    """The client's half of a push, as smart HTTP would POST it: commands, push options, the pack.

    Over SSH the client closes its side after the pack; a push that sends no pack (deletions only)
    is complete after its commands.
    """
    commands = bytearray()
    needs_pack = False
    capabilities = b""
    while True:
        line = await _read_pkt(stdin)
        commands += line
        if len(commands) > MAX_COMMAND_BYTES:
            raise Refused("Too many ref updates in one push.\n")
        if line == b"0000":
            break
        payload, _, caps = line[4:].rstrip(b"\n").partition(b"\x00")
        capabilities = capabilities or caps
        if payload.split(b" ", 2)[1:2] != [ZERO]:
            needs_pack = True
    if commands == b"0000":
        return
    if b"push-options" in capabilities.split(b" "):
        while (line := await _read_pkt(stdin)) != b"0000":
            commands += line
            if len(commands) > MAX_COMMAND_BYTES:
                raise Refused("Too many push options.\n")
        commands += line
    yield bytes(commands)
    if needs_pack:
        while chunk := await stdin.read(CHUNK):
            yield chunk


class GitCommands:
    """Runs one authenticated git command on an SSH channel."""

    def __init__(self, settings: Settings, client: redis.Redis[bytes]) -> None:
        self.settings = settings
        self.client = client
        self.limiter = RateLimiter(client, settings)

    def _authorize(self, identity: Identity, app_name: str, service: Service) -> tuple[App, User]:
        """Fetching is for viewers and above, pushing (which deploys) for members, as over HTTP."""
        with session_scope(self.settings.resolved_database_url) as session:
            user = session.get(User, identity.user_id)
            if user is None:
                raise Refused("This key's account is gone.\n")
            try:
                needed = VIEWER if service == "git-upload-pack" else MEMBER
                app = get_owned_app(session=session, user=user, name=app_name, role=needed)
            except WharfError as error:
                raise Refused(error.message + "\n") from None
            session.expunge_all()
            return app, user

    async def handle(self, process: asyncssh.SSHServerProcess[bytes]) -> None:
        try:
            code = await self._run(process)
        except Refused as refused:
            process.stderr.write(f" !     {refused}".encode())
            code = 1
        except (asyncssh.BreakReceived, asyncssh.TerminalSizeChanged, asyncio.IncompleteReadError):
            code = 1
        except WharfError as error:
            process.stderr.write(f" !     {error.message}\n".encode())
            code = 1
        with contextlib.suppress(Exception):
            process.exit(code)

    async def _run(self, process: asyncssh.SSHServerProcess[bytes]) -> int:
        identity: Identity | None = process.get_extra_info("wharf_identity")
        if identity is None:
            raise Refused("This key is not registered: add it with `wharf keys:add`.\n")
        service, app_name = parse_command(process.command)
        peer = process.get_extra_info("peername") or ("unknown", 0)
        verdict = await asyncio.to_thread(
            self.limiter.spend, "git", user_id=identity.user_id, address=str(peer[0])
        )
        if not verdict.allowed:
            raise Refused(f"Too many git requests: retry in {verdict.retry_after} seconds.\n")
        app, user = await asyncio.to_thread(self._authorize, identity, app_name, service)
        if service == "git-upload-pack":
            return await self._upload_pack(process, app, user)
        env = git_env(app, user, self.settings, key_id=identity.key_id)
        await _send(process, advertise_refs(service, app=app, env=env, settings=self.settings))
        spool = await spool_chunks(push_request(process.stdin), spool_limit(self.settings))
        if spool.read(4) in (b"", b"0000"):
            spool.close()
            return 0
        spool.seek(0)
        await _send(
            process, serve_rpc(service, spool, app=app, env=env, settings=self.settings, client=self.client)
        )
        return 0

    async def _upload_pack(self, process: asyncssh.SSHServerProcess[bytes], app: App, user: User) -> int:
        """A fetch is a conversation (no lock, no hook): git upload-pack on the channel, both ways."""
        repo = await asyncio.to_thread(repo_for, app, self.settings)
        git = await asyncio.create_subprocess_exec(
            "git", "upload-pack", "--strict", str(repo),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=git_env(app, user, self.settings),
        )  # fmt: skip
        assert git.stdin is not None and git.stdout is not None
        git_stdin = git.stdin

        async def feed() -> None:
            while chunk := await process.stdin.read(CHUNK):
                git_stdin.write(chunk)
                await git_stdin.drain()
            git_stdin.close()

        feeder = asyncio.create_task(feed())
        try:
            while chunk := await git.stdout.read(CHUNK):
                process.stdout.write(chunk)
                await process.stdout.drain()
            return await git.wait()
        finally:
            feeder.cancel()
            if git.returncode is None:
                git.kill()
                await git.wait()


async def _send(process: asyncssh.SSHServerProcess[bytes], chunks: AsyncIterator[bytes]) -> None:
    async for chunk in chunks:
        process.stdout.write(chunk)
        await process.stdout.drain()


async def serve(settings: Settings, stop: threading.Event) -> None:
    client = redis.Redis.from_url(settings.resolved_redis_url)
    commands = GitCommands(settings, client)
    server = await asyncssh.create_server(
        lambda: GitServer(settings.resolved_database_url),
        settings.wharf_ssh_host,
        settings.wharf_ssh_port,
        server_host_keys=[ensure_host_key(settings.wharf_data_dir)],
        process_factory=commands.handle,
        encoding=None,
        allow_pty=False,
        agent_forwarding=False,
        x11_forwarding=False,
        allow_scp=False,
        sftp_factory=None,
        keepalive_interval=30,
        login_timeout=30,
    )
    logger.info("SSH git on %s:%s", settings.wharf_ssh_host, settings.wharf_ssh_port)
    try:
        await asyncio.to_thread(stop.wait)
    finally:
        server.close()
        await server.wait_closed()
        client.close()


def run_ssh_server(settings: Settings, *, stop: threading.Event) -> None:
    """A supervised service of `wharfd services`: returns when `stop` is set."""
    asyncio.run(serve(settings, stop))
