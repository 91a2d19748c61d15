"""The contract between the scheduler and whatever runs containers.

The scheduler converges a runtime to the desired formation. It never stores container ids: it asks
the runtime for dynos by label (app, process type, release, number), so a restarted scheduler, or a
restarted Docker daemon, still sees exactly what runs.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

LABEL_APP = "wharf.app"
LABEL_PROCESS_TYPE = "wharf.process-type"
LABEL_DYNO = "wharf.dyno"
LABEL_RELEASE = "wharf.release"
LABEL_MANAGED = "wharf.managed"
# Which installation (data dir) runs the dyno: a scheduler only ever touches its own.
LABEL_INSTALLATION = "wharf.installation"
LABEL_SIZE = "wharf.size"
LABEL_PORT = "wharf.port"
LABEL_COMMAND = "wharf.command"
# A one-off dyno with a client attached: it lives only as long as its session.
LABEL_ATTACHED = "wharf.attached"

NETWORK_PREFIX = "wharf-app-"
DEFAULT_PORT = 5000
DEFAULT_STOP_TIMEOUT = 30.0
DEFAULT_USER = "1000:1000"
SHELL = ("/bin/sh", "-c")
DYNO_TMP = "/tmp"  # noqa: S108 - the dyno's own tmpfs inside its container, not a host path
EXIT_CODE_TERMINATED = 128 + 15
EXIT_CODE_KILLED = 128 + 9
CLEAN_EXIT_CODES = frozenset({0, EXIT_CODE_TERMINATED})

OutputCallback = Callable[[bytes], None]
MIB = 1024 * 1024
GIB = 1024 * MIB


class WharfRuntimeError(Exception):
    """Base for errors the runtime reports in its own terms rather than the engine's."""


class DynoNotFound(WharfRuntimeError, LookupError):
    """No managed dyno has this id (it may have been removed already)."""


class NetworkNotFound(WharfRuntimeError, LookupError):
    """The app's network does not exist: call ensure_network(app) first."""


class NetworkInUse(WharfRuntimeError):
    """The app's network still has containers attached, so it cannot be removed."""


class ImageNotFound(WharfRuntimeError, LookupError):
    """The release image is not on this host (there is no registry to pull it from)."""


class DynoState(enum.StrEnum):
    """Heroku's dyno states, as `wharf ps` shows them."""

    STARTING = "starting"
    UP = "up"
    CRASHED = "crashed"
    EXITED = "exited"

    @classmethod
    def after_exit(cls, exit_code: int) -> DynoState:
        """A clean exit, or an end by SIGTERM, is `exited`; a failure, a SIGKILL or an OOM is `crashed`."""
        return cls.EXITED if exit_code in CLEAN_EXIT_CODES else cls.CRASHED


@dataclass(frozen=True)
class DynoSize:
    """Resource limits for one dyno; cpu_shares weighs dynos against each other under contention.

    `disk_bytes` bounds the dyno's writable filesystem where the storage driver can (see
    docs/dynos.md); `web_concurrency` is the `WEB_CONCURRENCY` default, Heroku's rule for its Python
    dynos: 2 processes up to 512 MiB, 4 up to 1 GiB, else two per CPU plus one.
    """

    name: str
    memory_bytes: int
    cpu_shares: int
    nano_cpus: int
    pids_limit: int
    disk_bytes: int = 0

    @property
    def web_concurrency(self) -> int:
        if self.memory_bytes <= 512 * MIB:
            return 2
        if self.memory_bytes <= 1024 * MIB:
            return 4
        return 2 * max(1, self.nano_cpus // 1_000_000_000) + 1


SIZES: dict[str, DynoSize] = {
    size.name: size
    for size in (
        DynoSize("basic", 512 * MIB, 256, nano_cpus=1_000_000_000, pids_limit=256, disk_bytes=GIB),
        DynoSize("standard", 1024 * MIB, 512, nano_cpus=1_000_000_000, pids_limit=512, disk_bytes=2 * GIB),
        DynoSize("performance", 2048 * MIB, 1024, nano_cpus=2 * 10**9, pids_limit=4096, disk_bytes=4 * GIB),
    )
}
DEFAULT_SIZE = "basic"


def size_named(name: str) -> DynoSize:
    """Look a size up by name, failing with the list of valid names."""
    try:
        return SIZES[name]
    except KeyError:
        raise ValueError(f"unknown dyno size {name!r}: choose one of {', '.join(SIZES)}") from None


def network_name(app: str) -> str:
    """The one bridge network an app's dynos and add-ons share, and nothing else joins."""
    return f"{NETWORK_PREFIX}{app}"


@dataclass(frozen=True)
class DynoSpec:
    """Everything needed to start one dyno of one release.

    `command` is either an argv list run as is, or a Procfile-style string run by `/bin/sh -c`.
    The root filesystem is writable and ephemeral, as on Heroku: writes vanish with the dyno.
    `scratch_paths` become empty tmpfs mounts; `writable_paths` become per-dyno volumes seeded
    with the image's content there, for a spec that asks for a read-only root.
    """

    app: str
    process_type: str
    number: int
    release: int
    image: str
    command: str | tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)
    size: str = DEFAULT_SIZE
    port: int = DEFAULT_PORT
    network: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    user: str | None = None
    read_only_root: bool = False
    scratch_paths: tuple[str, ...] = (DYNO_TMP,)
    writable_paths: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        size_named(self.size)
        if self.number < 1:
            raise ValueError(f"dyno numbers start at 1, got {self.number}")

    @property
    def dyno(self) -> str:
        """The `DYNO` value the process sees, like `web.1`."""
        return f"{self.process_type}.{self.number}"

    @property
    def name(self) -> str:
        return f"{self.app}.{self.dyno}"

    @property
    def network_name(self) -> str:
        return self.network or network_name(self.app)

    @property
    def argv(self) -> list[str]:
        if isinstance(self.command, str):
            return [*SHELL, self.command]
        return list(self.command)

    @property
    def command_text(self) -> str:
        """The command as `wharf ps` prints it."""
        return self.command if isinstance(self.command, str) else " ".join(self.command)

    def environment(self) -> dict[str, str]:
        """Config vars plus PORT and DYNO, which the platform owns and a config var cannot override.

        `WEB_CONCURRENCY` comes from the dyno size unless the app's config sets it.
        """
        defaults = {"WEB_CONCURRENCY": str(size_named(self.size).web_concurrency)}
        return {**defaults, **self.env, "PORT": str(self.port), "DYNO": self.dyno}

    def all_labels(self) -> dict[str, str]:
        """The labels every managed container carries; reconciliation queries nothing else."""
        return {
            **self.labels,
            LABEL_APP: self.app,
            LABEL_PROCESS_TYPE: self.process_type,
            LABEL_DYNO: str(self.number),
            LABEL_RELEASE: str(self.release),
            LABEL_MANAGED: "1",
            LABEL_SIZE: self.size,
            LABEL_PORT: str(self.port),
            LABEL_COMMAND: self.command_text,
        }


@dataclass(frozen=True)
class Dyno:
    """A dyno as the runtime sees it now. `address` is reachable from the host and the app network."""

    id: str
    app: str
    process_type: str
    number: int
    release: int
    state: DynoState
    command: str
    size: str
    started_at: datetime | None
    finished_at: datetime | None
    exit_code: int | None
    address: tuple[str, int] | None
    labels: Mapping[str, str]
    oom_killed: bool = False
    # The node it runs on, on a runtime of several nodes (placement.NodeAwareRuntime); else None.
    node: str | None = None

    @property
    def dyno(self) -> str:
        return f"{self.process_type}.{self.number}"

    @property
    def name(self) -> str:
        return f"{self.app}.{self.dyno}"

    @property
    def running(self) -> bool:
        return self.state in (DynoState.STARTING, DynoState.UP)


class EventAction(enum.StrEnum):
    START = "start"
    DIE = "die"


@dataclass(frozen=True)
class DynoEvent:
    """A dyno started or its process ended; `exit_code` is set for `die`."""

    action: EventAction
    dyno_id: str
    app: str
    process_type: str
    number: int
    release: int
    time: float
    exit_code: int | None = None


def label_filters(
    app: str | None,
    process_type: str | None,
    release: int | None,
    labels: Mapping[str, str] | None,
) -> dict[str, str]:
    """The label query that list_dynos runs, shared so both runtimes answer the same question."""
    wanted = {LABEL_MANAGED: "1", **(labels or {})}
    if app is not None:
        wanted[LABEL_APP] = app
    if process_type is not None:
        wanted[LABEL_PROCESS_TYPE] = process_type
    if release is not None:
        wanted[LABEL_RELEASE] = str(release)
    return wanted


def scope_labels(installation: str | None) -> dict[str, str]:
    """The labels every dyno of one installation carries and every query of its runtime filters on."""
    return {LABEL_MANAGED: "1", **({LABEL_INSTALLATION: installation} if installation else {})}


def event_from_labels(
    action: EventAction, dyno_id: str, labels: Mapping[str, str], time: float, exit_code: int | None
) -> DynoEvent:
    return DynoEvent(
        action=action,
        dyno_id=dyno_id,
        app=labels[LABEL_APP],
        process_type=labels[LABEL_PROCESS_TYPE],
        number=int(labels[LABEL_DYNO]),
        release=int(labels[LABEL_RELEASE]),
        time=time,
        exit_code=exit_code,
    )


STDOUT = 1
STDERR = 2
OutputChunk = tuple[int, bytes]


class AttachedDyno(Protocol):
    """A one-off dyno whose input and output the caller relays (`wharf run`).

    With a TTY, output is the terminal's (all on STDOUT) and the end of input is Ctrl-D. Without one,
    output keeps stdout and stderr apart and the end of input closes the process's standard input.
    Input and output are asynchronous, so a session holds no thread while it waits; the other calls
    are short blocking requests to the engine.
    """

    id: str
    name: str
    tty: bool

    async def open(self) -> None:
        """Take over the attach connection in the running event loop; before any read or write."""
        ...

    async def read(self) -> OutputChunk | None:
        """The next chunk of output as (STDOUT or STDERR, bytes); None once the process has ended."""
        ...

    async def write(self, data: bytes) -> None: ...

    async def close_stdin(self) -> None: ...

    async def close(self) -> None:
        """Close the attach connection (the dyno keeps running until `remove`)."""
        ...

    def resize(self, rows: int, columns: int) -> None: ...

    def wait(self) -> int:
        """Block until the process ends; its exit code."""
        ...

    def remove(self) -> None:
        """Kill and remove the dyno; a no-op if it is gone."""
        ...


@runtime_checkable
class InteractiveRuntime(Protocol):
    """A runtime that can attach a client to a one-off dyno."""

    def start_attached(self, spec: DynoSpec, *, tty: bool = True) -> AttachedDyno:
        """Create and start a one-off dyno (with a TTY or not), attached before its process starts."""
        ...

    def remove_attached_dynos(self) -> list[str]:
        """Remove every attached one-off dyno (their sessions ended with the process that held them)."""
        ...


@runtime_checkable
class Runtime(Protocol):
    """What the scheduler needs from a container engine; chosen once with get_runtime()."""

    def ensure_network(self, app: str) -> str:
        """Create the app's network if missing (idempotent); return its name."""
        ...

    def remove_network(self, app: str) -> None:
        """Remove the app's network; a no-op if it is gone, NetworkInUse while dynos remain."""
        ...

    def start_dyno(self, spec: DynoSpec) -> Dyno:
        """Create and start a dyno in the background; never pulls an image."""
        ...

    def get_dyno(self, dyno_id: str) -> Dyno:
        """The dyno's current state; DynoNotFound when it does not exist."""
        ...

    def list_dynos(
        self,
        app: str | None = None,
        *,
        process_type: str | None = None,
        release: int | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> list[Dyno]:
        """Managed dynos matching every given label, running or not, ordered by name."""
        ...

    def stop_dyno(self, dyno_id: str, timeout: float = DEFAULT_STOP_TIMEOUT) -> Dyno:
        """SIGTERM, then SIGKILL once `timeout` seconds pass; returns the stopped dyno."""
        ...

    def remove_dyno(self, dyno_id: str) -> None:
        """Remove the dyno (killing it if it still runs); a no-op if it is already gone."""
        ...

    def wait(self, dyno_id: str, timeout: float | None = None) -> int:
        """Block until the dyno's process ends and return its exit code; TimeoutError otherwise."""
        ...

    def run_oneoff(
        self, spec: DynoSpec, *, on_output: OutputCallback | None = None, timeout: float | None = None
    ) -> int:
        """Run a one-off dyno to completion, stream its output, remove it, return its exit code.

        After `timeout` seconds the dyno is stopped and the exit code of the stop is returned.
        """
        ...

    def events(self, *, since: float | None = None, timeout: float | None = None) -> Iterator[DynoEvent]:
        """Yield start/die events of managed dynos from `since` (a Unix time; default: this call).

        The iterator ends once `timeout` seconds have passed, so a reconciler can wake on an exit
        or on its resync interval, whichever comes first.
        """
        ...
