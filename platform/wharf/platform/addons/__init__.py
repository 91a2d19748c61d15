"""Add-ons: Postgres, Redis and memcached as dedicated containers on their app's network.

Providers are chosen once from settings through get_addon_providers(): the Docker providers when
WHARF_RUNTIME is "docker", an in-memory fake when it is "fake". Everything else talks to the
AddonProvider protocol.
"""

from __future__ import annotations

import fcntl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from wharf.platform.addons.base import (
    KINDS,
    AddonError,
    AddonProvider,
    AddonSpec,
    BackupProvider,
    UnsupportedOperation,
    kind_named,
)
from wharf.platform.implementations import choose
from wharf.platform.settings import Settings


class AddonProviders:
    """The provider of each kind, plus the locks that keep two processes off one add-on."""

    def __init__(self, providers: dict[str, AddonProvider], lock_dir: Path | None) -> None:
        self._providers = providers
        self._lock_dir = lock_dir
        self._thread_locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def for_kind(self, kind: str) -> AddonProvider:
        try:
            return self._providers[kind]
        except KeyError:
            raise AddonError(f"no provider for add-on kind {kind!r}") from None

    def backups_for(self, kind: str) -> BackupProvider:
        provider = self.for_kind(kind)
        if not isinstance(provider, BackupProvider) or kind != "postgres":
            raise UnsupportedOperation(f"{kind} add-ons have no backups")
        return provider

    @contextmanager
    def exclusive(self, name: str, *, wait: bool = True) -> Iterator[bool]:
        """Hold the add-on's lock (across processes when a lock dir is set); yields False if busy."""
        with self._guard:
            thread_lock = self._thread_locks.setdefault(name, threading.Lock())
        if not thread_lock.acquire(blocking=wait):
            yield False
            return
        try:
            if self._lock_dir is None:
                yield True
                return
            self._lock_dir.mkdir(parents=True, exist_ok=True)
            with (self._lock_dir / f"addon-{name}.lock").open("w") as handle:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    yield False
                    return
                yield True
        finally:
            thread_lock.release()


def installation_id(data_dir: Path) -> str:
    """Labels this installation's add-on containers, so two Wharfs on one Docker never touch each other's."""
    return Settings(wharf_data_dir=data_dir).installation_id


def build_addon_providers(settings: Settings) -> AddonProviders:
    """The providers WHARF_RUNTIME names: the Docker ones for "docker", in-memory fakes for "fake"."""
    name = settings.wharf_runtime
    providers = choose("addon_providers", name)(settings)
    if not isinstance(providers, AddonProviders):
        raise TypeError(f"the {name!r} add-on providers factory built a {type(providers).__name__}")
    return providers


@lru_cache(maxsize=4)
def _cached_providers(runtime: str, data_dir: Path, run_image: str) -> AddonProviders:
    return build_addon_providers(
        Settings(wharf_runtime=runtime, wharf_data_dir=data_dir, wharf_run_image=run_image)
    )


def get_addon_providers(settings: Settings) -> AddonProviders:
    """One set of providers per process and installation (the fake's state lives in it)."""
    return _cached_providers(settings.wharf_runtime, settings.wharf_data_dir, settings.wharf_run_image)


__all__ = [
    "KINDS",
    "AddonError",
    "AddonProvider",
    "AddonProviders",
    "AddonSpec",
    "BackupProvider",
    "UnsupportedOperation",
    "build_addon_providers",
    "get_addon_providers",
    "installation_id",
    "kind_named",
]
