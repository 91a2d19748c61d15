"""The contract between the control plane and whatever runs add-ons.

An add-on is a dedicated service (a Postgres, a Redis, a memcached) that lives on its app's network
only. The control plane keeps its name, kind and encrypted credentials; a provider turns them into a
running service, checks it, backs it up and removes it. Providers find their containers by label,
so a restarted control plane still sees exactly what runs.
"""

from __future__ import annotations

import enum
import secrets
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

LABEL_ADDON = "wharf.addon"
LABEL_ADDON_KIND = "wharf.addon-kind"
LABEL_ADDON_HOME = "wharf.addon-home"

Progress = Callable[[str], None]


def ignore_progress(_line: str) -> None:
    """A progress callback for callers that do not show progress."""


@dataclass(frozen=True)
class AddonKind:
    """What Heroku users expect of a kind: its config var and how its add-ons are named."""

    name: str
    env_var: str
    name_prefix: str
    title: str


KINDS: dict[str, AddonKind] = {
    kind.name: kind
    for kind in (
        AddonKind("postgres", "DATABASE_URL", "postgresql", "PostgreSQL 17"),
        AddonKind("redis", "REDIS_URL", "redis", "Redis 8"),
        AddonKind("memcached", "MEMCACHED_URL", "memcached", "memcached 1.6"),
    )
}
KIND_ALIASES = {
    "postgresql": "postgres",
    "heroku-postgresql": "postgres",
    "pg": "postgres",
    "heroku-redis": "redis",
    "memcache": "memcached",
}


def kind_named(name: str) -> AddonKind:
    """Look a kind up by name or a Heroku alias (`heroku-postgresql`, `heroku-redis:mini`)."""
    base = name.lower().split(":", 1)[0]
    base = KIND_ALIASES.get(base, base)
    try:
        return KINDS[base]
    except KeyError:
        raise ValueError(f"unknown add-on kind {name!r}: choose one of {', '.join(KINDS)}") from None


def random_secret(length: int = 32) -> str:
    """Letters and digits only, so a secret is safe in a URL, a shell word and an SQL literal."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


def random_identifier(prefix: str) -> str:
    """A lowercase name for a database role or database, as Heroku hands out (`u3k9...`)."""
    alphabet = string.ascii_lowercase + string.digits
    return prefix + "".join(secrets.choice(alphabet) for _ in range(13))


@dataclass(frozen=True)
class AddonSpec:
    """One add-on as a provider needs it: the credentials are decrypted by the caller."""

    name: str
    app: str
    kind: str
    credentials: Mapping[str, str] = field(default_factory=dict)

    @property
    def host(self) -> str:
        """The name the app's dynos resolve on their network: the container's own name."""
        return self.name


class AddonState(enum.StrEnum):
    MISSING = "missing"
    STARTING = "starting"
    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"
    STOPPED = "stopped"


@dataclass(frozen=True)
class AddonHealth:
    state: AddonState
    detail: str = ""
    # MISSING with its data gone too (no volume left): recreating it starts an empty server.
    data_lost: bool = False

    @property
    def ok(self) -> bool:
        return self.state is AddonState.HEALTHY


@dataclass(frozen=True)
class ConsoleResult:
    """What a one-off `psql -c` or `redis-cli` printed, and its exit code."""

    exit_code: int
    output: str


@dataclass(frozen=True)
class BackupResult:
    size_bytes: int
    sha256: str


class AddonError(RuntimeError):
    """A provider could not do what was asked; the message says what went wrong."""


class UnsupportedOperation(AddonError):
    """The kind has no such operation (memcached has no console, only Postgres has backups)."""


@runtime_checkable
class AddonProvider(Protocol):
    """Runs add-ons of one kind. Every method is idempotent, so a reconciler may repeat it."""

    kind: str

    def new_credentials(self) -> dict[str, str]:
        """Fresh random credentials for a new add-on (stored encrypted by the caller)."""
        ...

    def connection_url(self, spec: AddonSpec) -> str:
        """The URL the app's dynos use, with the container's name as host."""
        ...

    def tls_url(self, spec: AddonSpec) -> str | None:
        """A second URL over TLS where the kind serves TLS on a port of its own (set as <NAME>_TLS_URL)."""
        ...

    def provision(self, spec: AddonSpec, *, progress: Progress = ignore_progress) -> None:
        """Make the add-on run and answer: build its image on first use, create or start its
        container on the app's network, and wait until it is healthy. Existing data is kept."""
        ...

    def deprovision(self, spec: AddonSpec) -> None:
        """Remove the container and its data; a no-op when both are gone."""
        ...

    def health(self, spec: AddonSpec) -> AddonHealth: ...

    def restart(self, spec: AddonSpec) -> None:
        """Restart the service process, keeping its data."""
        ...

    def info(self, spec: AddonSpec) -> dict[str, str]:
        """Facts for `addons:info`, `pg:info`, `redis:info` (version, size, connections...)."""
        ...

    def run_console(self, spec: AddonSpec, command: str, *, timeout: float = 60.0) -> ConsoleResult:
        """Run one psql/redis-cli command from a one-off container on the app's network."""
        ...


@runtime_checkable
class CertificateRenewer(Protocol):
    """A provider whose servers serve TLS with a certificate it can replace while they run."""

    def renew_certificate(self, spec: AddonSpec, *, force: bool = False) -> str | None:
        """Replace the certificate in place when it is due (or with ``force``); its serial when replaced."""
        ...


@runtime_checkable
class BackupProvider(Protocol):
    """A provider that can dump its data to a file and load it back (Postgres)."""

    def capture_backup(self, spec: AddonSpec, destination: Path) -> BackupResult: ...

    def restore_backup(self, spec: AddonSpec, source: Path) -> None: ...

    def backup_summary(self, spec: AddonSpec) -> list[str]:
        """What a restore overwrites: the tables there now, with their row estimates."""
        ...
