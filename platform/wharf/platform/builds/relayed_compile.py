"""The compile step on a builder node of a swarm: the worker's side of builds/relay_wire.py.

The workspace is prepared here exactly as for a compile on this host, then packed as one tar: what
the builder container would mount (the app, its config vars as files, the output folder, the
buildpacks, the CA bundle and the language runtimes the build uses) at the paths it would mount them
at, owned as they would be. The builder node's agent copies it into the builder, runs it, relays its
output, and sends back the built `/app` and `/output`, which replace the workspace's before the
release image is built here as after a compile on this host. The build cache stays on the builder
node, in a volume of the app's. An agent that does not answer leaves the build to this host.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import shutil
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from wharf.platform.builds import relay_wire as wire
from wharf.platform.builds.build_caches import remember_build_cache
from wharf.platform.builds.builder_claims import release_claim
from wharf.platform.builds.builder_nodes import BuilderNode
from wharf.platform.builds.compile import (
    BuildFailed,
    BuildTimedOut,
    CompileRequest,
    CompileResult,
    PreparedCompile,
    finish_compile,
    prepare_compile,
    run_here,
)
from wharf.platform.builds.tenant_files import link_above
from wharf.platform.languages.prepare import RUNTIMES_IN_BUILDER
from wharf.platform.textlines import LineSplitter

OutputCallback = Callable[[str], None]
# The workspace's own mounts, owned by the build's user; every other mount is read-only, root's.
_WORKSPACE_TARGETS = ("/app", "/env", "/output")
_NODE_CACHE = "/cache"
# The built tree and the buildpacks' output may be this much over the slug limit as tars.
ARCHIVE_ALLOWANCE_BYTES = 64 * 1024 * 1024


def build_cache_key(installation: str, app_id: int, created_at: datetime) -> str:
    """What tells one app's build cache on a builder node from another's of the same name: the
    installation, the app's id and its creation time."""
    identity = f"{installation}:{app_id}:{created_at.timestamp():.6f}"
    return hashlib.sha256(identity.encode()).hexdigest()[:16]


class BuilderNodeAway(Exception):
    """The builder node's agent did not take the build."""


def pack_workspace(prepared: PreparedCompile, destination: Path) -> int:
    """PREPARED's mounts as one tar at DESTINATION, each at its path in the builder; its size."""
    run = prepared.run_kwargs
    uid, gid = (int(part) for part in str(run["user"]).split(":"))
    used_runtimes = {
        value for value in run["environment"].values() if value.startswith(f"{RUNTIMES_IN_BUILDER}/")
    }

    def owned_by(owner: tuple[int, int]) -> Callable[[tarfile.TarInfo], tarfile.TarInfo]:
        def set_owner(info: tarfile.TarInfo) -> tarfile.TarInfo:
            info.uid, info.gid = owner
            info.uname = info.gname = ""
            return info

        return set_owner

    # The config vars are in it, in clear: 0600, as their files are.
    destination.unlink(missing_ok=True)
    destination.touch(mode=0o600)
    with tarfile.open(destination, "w", format=tarfile.PAX_FORMAT) as archive:
        for source, mount in run["volumes"].items():
            target = str(mount["bind"])
            if target == _NODE_CACHE:
                # The node's cache volume: the build's user's, as the cache folder here is.
                archive.addfile(_folder(_NODE_CACHE.lstrip("/"), uid, gid))
                continue
            owner = owned_by((uid, gid) if target in _WORKSPACE_TARGETS else (0, 0))
            if target == RUNTIMES_IN_BUILDER:
                for runtime in sorted(used_runtimes):
                    path = Path(source) / runtime.removeprefix(f"{RUNTIMES_IN_BUILDER}/")
                    if path.is_dir():
                        archive.add(path, arcname=runtime.lstrip("/"), filter=owner)
            elif Path(source).is_dir():
                archive.add(source, arcname=target.lstrip("/"), filter=owner)
            else:
                archive.add(os.path.realpath(source), arcname=target.lstrip("/"), filter=owner)
    return destination.stat().st_size


def _folder(name: str, uid: int, gid: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = 0o700
    info.uid, info.gid = uid, gid
    info.mtime = int(time.time())
    return info


def check_built_members(members: list[tarfile.TarInfo], top: str) -> None:
    """Refuse an archive of the built TOP that could write outside it or through a link when unpacked:
    only files, folders and links under TOP, no `..`, nothing stored under a link, hard links to
    files of the archive. A link itself may point anywhere, as a build's may on one host."""
    links = {member.name.rstrip("/") for member in members if member.issym()}
    for member in members:
        name = member.name.rstrip("/")
        parts = name.split("/")
        problem = None
        if parts[0] != top or ".." in parts or "\x00" in name:
            problem = "is outside the built folder"
        elif not (member.isreg() or member.isdir() or member.issym() or member.islnk()):
            problem = "is not a plain file, folder or link"
        elif link_above(parts, links) is not None:
            problem = "is stored under a link"
        elif member.islnk():
            target = member.linkname.split("/")
            if target[0] != top or ".." in target:
                problem = "is a hard link out of the built folder"
        if problem is not None:
            raise BuildFailed(f"The builder node sent back {name[:200]!r}, which {problem}.")


def unpack_built(archive_path: Path, root: Path, top: str) -> None:
    """The built TOP (`app` or `output`) from its archive, in place of ROOT/TOP."""
    destination = root / top
    if destination.exists():
        shutil.rmtree(destination)
    with tarfile.open(archive_path) as archive:
        members = archive.getmembers()
        check_built_members(members, top)
        try:
            archive.extractall(root, members=members, filter="tar", numeric_owner=True)
        except tarfile.FilterError as error:
            raise BuildFailed(
                f"The builder node sent back a tree that cannot be unpacked safely: {error}"
            ) from error


def built_archive(prepared: PreparedCompile, top: str) -> Path:
    """Where the built TOP (`app` or `output`) the node sends back is kept until it is unpacked."""
    return prepared.root / f"built-{top}.tar"


@dataclass(frozen=True)
class RelayedCompiler:
    """Compiles APP's builds on NODE through its agent, with the cache CACHE_KEY names there; IMAGE is
    the build image as NODE pulls it. The cache is recorded as INSTALLATION's (builds/build_caches.py);
    CLAIM, when given, is the claim on NODE's memory (builds/builder_claims.py) let go once it has run."""

    installation: str
    app: str
    cache_key: str
    node: BuilderNode
    redis_url: str
    image: str
    claim: str | None = None

    def __call__(self, request: CompileRequest, *, on_output: OutputCallback) -> CompileResult:
        prepared = prepare_compile(request, on_output=on_output)
        workspace = prepared.root / "workspace.tar"
        archives = {top: built_archive(prepared, top) for top in wire.ARCHIVES}
        try:
            size = pack_workspace(prepared, workspace)
            try:
                status = RelaySession(self, request, prepared, on_output).run(workspace, size)
            except BuilderNodeAway as away:
                on_output(f" !     {away}; building on this host instead")
                status = run_here(request, prepared, on_output=on_output)
            else:
                if status == 0:
                    for top, archive in archives.items():
                        unpack_built(archive, prepared.root, top)
        finally:
            for path in (workspace, *archives.values()):
                path.unlink(missing_ok=True)
            if self.claim is not None:
                self._release_claim(self.claim)
        return finish_compile(request, prepared, status, on_output=on_output)

    def _release_claim(self, claim: str) -> None:
        import redis

        client = redis.Redis.from_url(self.redis_url)
        try:
            release_claim(client, self.installation, claim)
        except redis.RedisError:
            pass  # it lapses after the build's time limit
        finally:
            client.close()


class RelaySession:
    """One build on a builder node, from the request to the last piece of the built app."""

    def __init__(
        self,
        compiler: RelayedCompiler,
        request: CompileRequest,
        prepared: PreparedCompile,
        on_output: OutputCallback,
    ) -> None:
        self.compiler = compiler
        self.request = request
        self.prepared = prepared
        self.on_output = on_output
        self.session = secrets.token_hex(16)
        self.lines = LineSplitter()
        self.status: int | None = None
        self.ready = False
        self.done = False
        self.sent = 0
        self.taken_by_agent = 0
        self.received = 0
        self.acked = 0
        self.last_ping = 0.0
        self.heard = time.monotonic()
        self.archive: IO[bytes] | None = None
        self.archive_index = 0
        self.archive_bytes = 0
        self.archive_limit = request.limits.max_slug_bytes + ARCHIVE_ALLOWANCE_BYTES
        self.client: Any = None
        self.pubsub: Any = None

    def build_request(self) -> wire.BuildRequest:
        run = self.prepared.run_kwargs
        limits = self.request.limits
        return wire.BuildRequest(
            session=self.session,
            app=self.compiler.app,
            cache_key=self.compiler.cache_key,
            image=self.compiler.image,
            command=tuple(run["command"]),
            environment=dict(run["environment"]),
            user=str(run["user"]),
            working_dir=str(run["working_dir"]),
            memory_bytes=limits.memory_bytes,
            nano_cpus=int(run["nano_cpus"]),
            pids=int(run["pids_limit"]),
            network=str(run["network_mode"]),
            max_archive_bytes=self.archive_limit,
        )

    def say(self, kind: bytes, payload: bytes = b"") -> None:
        self.client.publish(wire.input_channel(self.session), wire.frame(kind, payload))

    def run(self, workspace: Path, size: int) -> int:
        """The builder's exit status; raises BuilderNodeAway when no agent takes the build, BuildFailed
        when the node fails it, BuildTimedOut when it runs over its time."""
        import redis

        node = self.compiler.node
        self.client = redis.Redis.from_url(self.compiler.redis_url, health_check_interval=30)
        self.pubsub = self.client.pubsub()
        try:
            self.pubsub.subscribe(wire.output_channel(self.session))
            request = self.build_request()
            compiler = self.compiler
            remember_build_cache(
                self.client,
                installation=compiler.installation,
                app=compiler.app,
                cache_key=compiler.cache_key,
            )
            if self.client.publish(wire.requests_channel(node.id), request.to_json()) == 0:
                raise BuilderNodeAway(f"the agent of builder node {node.name} does not answer")
            self.on_output(f"-----> Building on node {node.name}")
            self._until(lambda: self.ready, wire.READY_SECONDS, "to get ready")
            self._send_workspace(workspace, size)
            return self._follow()
        finally:
            with contextlib.suppress(Exception):
                self.say(wire.QUIT)
            if self.archive is not None:
                self.archive.close()
            with contextlib.suppress(Exception):
                self.pubsub.close()
            self.client.close()

    def _send_workspace(self, workspace: Path, size: int) -> None:
        self.on_output(f"       Sending the workspace: {size / 1e6:.1f} MB")
        with workspace.open("rb") as source:
            while piece := source.read(wire.PIECE_BYTES):
                self._until(
                    lambda: self.sent - self.taken_by_agent < wire.WINDOW_BYTES,
                    wire.SILENCE_SECONDS,
                    "to take the workspace",
                )
                self.say(wire.INPUT, piece)
                self.sent += len(piece)
                self._hear(0)
        self.say(wire.END_OF_INPUT)

    def _follow(self) -> int:
        deadline = time.monotonic() + self.request.limits.timeout_seconds
        stopped = False
        while not self.done:
            if self.status not in (None, 0):
                break
            if not stopped and time.monotonic() > deadline:
                self.say(wire.STOP)
                stopped = True
            self._hear(1.0)
        for line in self.lines.close():
            self.on_output(line)
        if stopped:
            raise BuildTimedOut(
                f"The build took longer than {self.request.limits.timeout_seconds:.0f} s and was stopped."
            )
        assert self.status is not None
        return self.status

    def _until(self, condition: Callable[[], bool], seconds: float, what: str) -> None:
        deadline = time.monotonic() + seconds
        while not condition():
            if time.monotonic() > deadline:
                raise BuildFailed(f"The builder node {self.compiler.node.name} took too long {what}.")
            self._hear(1.0)

    def _hear(self, timeout: float) -> None:
        """Take what the agent said within TIMEOUT seconds, and keep the session alive."""
        now = time.monotonic()
        if now - self.last_ping >= wire.HEARTBEAT_SECONDS:
            self.last_ping = now
            self.say(wire.PING)
        message = self.pubsub.get_message(ignore_subscribe_messages=True, timeout=timeout)
        while message is not None:
            self.heard = time.monotonic()
            self._take(*wire.unframe(message["data"]))
            message = self.pubsub.get_message(ignore_subscribe_messages=True, timeout=0)
        if time.monotonic() - self.heard > wire.SILENCE_SECONDS:
            raise BuildFailed(
                f"Lost the builder node {self.compiler.node.name}: its agent went silent. "
                "Push again to retry."
            )

    def _take(self, kind: bytes, payload: bytes) -> None:
        if kind == wire.READY:
            self.ready = True
        elif kind == wire.BUSY:
            reason = payload.decode(errors="replace")[:200]
            raise BuilderNodeAway(f"builder node {self.compiler.node.name} cannot take it: {reason}")
        elif kind == wire.FAILED:
            reason = payload.decode(errors="replace")[:500]
            raise BuildFailed(f"The builder node {self.compiler.node.name} could not run the build: {reason}")
        elif kind == wire.TAKEN:
            with contextlib.suppress(ValueError):
                self.taken_by_agent = max(self.taken_by_agent, int(payload))
        elif kind == wire.LOG:
            self._count(len(payload))
            for line in self.lines.feed(payload):
                self.on_output(line)
        elif kind == wire.EXITED:
            for line in self.lines.close():
                self.on_output(line)
            self.status = int(payload or 255)
        elif kind == wire.ARCHIVE:
            self._count(len(payload))
            self._archive_piece(payload)
        elif kind == wire.ARCHIVE_END:
            if self.archive is not None:
                self.archive.close()
                self.archive = None
            self.archive_index += 1
        elif kind == wire.DONE:
            if self.archive_index != len(wire.ARCHIVES):
                raise BuildFailed(
                    f"The builder node {self.compiler.node.name} sent back an incomplete build."
                )
            self.done = True

    def _archive_piece(self, piece: bytes) -> None:
        if self.archive_index >= len(wire.ARCHIVES):
            raise BuildFailed(
                f"The builder node {self.compiler.node.name} sent back more than the built app."
            )
        self.archive_bytes += len(piece)
        if self.archive_bytes > self.archive_limit:
            raise BuildFailed(
                f"The built app is over {self.archive_limit / 1e6:.0f} MB. "
                "List what the app does not need at run time in .slugignore."
            )
        if self.archive is None:
            path = built_archive(self.prepared, wire.ARCHIVES[self.archive_index])
            self.archive = os.fdopen(
                os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600), "wb"
            )
        self.archive.write(piece)

    def _count(self, size: int) -> None:
        self.received += size
        if self.received - self.acked >= wire.ACK_EVERY_BYTES:
            self.acked = self.received
            self.say(wire.ACK, str(self.received).encode())
