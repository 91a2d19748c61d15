"""An in-memory add-on provider for fast tests, with the same contract as the Docker providers.

Its "data" is a dict per add-on that `run_console` writes (`SET key value`) and reads (`GET key`),
so tests can see that a backup and a restore carry data. `crash` and `break_health` let upkeep
tests fail an add-on on purpose.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path

from wharf.platform.addons import AddonProviders
from wharf.platform.addons.base import (
    KINDS,
    AddonError,
    AddonHealth,
    AddonProvider,
    AddonSpec,
    AddonState,
    BackupResult,
    ConsoleResult,
    Progress,
    UnsupportedOperation,
    ignore_progress,
    random_identifier,
    random_secret,
)
from wharf.platform.settings import Settings


@dataclass
class FakeAddon:
    spec: AddonSpec
    running: bool = True
    healthy: bool = True
    restarts: int = 0
    data: dict[str, str] = field(default_factory=dict)
    # The serial of the certificate served (0: none renewed yet), and whether it is due for renewal.
    certificate_serial: int = 0
    certificate_due: bool = False


class FakeAddonWorld:
    """State shared by the fake providers of every kind, like one Docker host."""

    def __init__(self) -> None:
        self.addons: dict[str, FakeAddon] = {}
        self.lock = threading.Lock()

    def crash(self, name: str) -> None:
        self.addons[name].running = False

    def break_health(self, name: str) -> None:
        self.addons[name].healthy = False

    def lose(self, name: str) -> None:
        """The add-on's host is gone: its server and its data with it."""
        with self.lock:
            self.addons.pop(name)


class FakeAddonProvider:
    def __init__(self, kind: str, world: FakeAddonWorld | None = None) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown add-on kind {kind!r}")
        self.kind = kind
        self.world = world or FakeAddonWorld()

    def new_credentials(self) -> dict[str, str]:
        if self.kind == "memcached":
            return {}
        return {
            "user": random_identifier("u"),
            "password": random_secret(24),
            "database": random_identifier("d"),
        }

    def tls_url(self, spec: AddonSpec) -> str | None:
        return None

    def connection_url(self, spec: AddonSpec) -> str:
        c = spec.credentials
        if self.kind == "postgres":
            return f"postgres://{c['user']}:{c['password']}@{spec.host}:5432/{c['database']}"
        if self.kind == "redis":
            return f"redis://default:{c['password']}@{spec.host}:6379"
        return f"memcached://{spec.host}:11211"

    def provision(self, spec: AddonSpec, *, progress: Progress = ignore_progress) -> None:
        with self.world.lock:
            existing = self.world.addons.get(spec.name)
            if existing is None:
                progress(f"-----> Starting {spec.name} on the network of {spec.app}")
                self.world.addons[spec.name] = FakeAddon(spec=spec)
            else:
                existing.running = True
        progress(f"-----> {spec.name} is available")

    def deprovision(self, spec: AddonSpec) -> None:
        with self.world.lock:
            self.world.addons.pop(spec.name, None)

    def health(self, spec: AddonSpec) -> AddonHealth:
        addon = self.world.addons.get(spec.name)
        if addon is None:
            # A fake add-on's data lives in it: gone with it, as a container with its volume on a lost host.
            return AddonHealth(AddonState.MISSING, "no container and no volume", data_lost=True)
        if not addon.running:
            return AddonHealth(AddonState.STOPPED, "container exited")
        if not addon.healthy:
            return AddonHealth(AddonState.UNHEALTHY, "health check failing")
        return AddonHealth(AddonState.HEALTHY, "answering")

    def restart(self, spec: AddonSpec) -> None:
        addon = self._require(spec)
        addon.running, addon.healthy = True, True
        addon.restarts += 1

    def renew_certificate(self, spec: AddonSpec, *, force: bool = False) -> str | None:
        addon = self._require(spec)
        if self.kind == "memcached" or not (force or addon.certificate_due):
            return None
        addon.certificate_serial, addon.certificate_due = addon.certificate_serial + 1, False
        return f"{addon.certificate_serial:X}"

    def info(self, spec: AddonSpec) -> dict[str, str]:
        facts = {"Status": self.health(spec).state.value}
        addon = self.world.addons.get(spec.name)
        if addon is not None:
            facts["Keys"] = str(len(addon.data))
        return facts

    def run_console(self, spec: AddonSpec, command: str, *, timeout: float = 60.0) -> ConsoleResult:
        if self.kind == "memcached":
            raise UnsupportedOperation("memcached add-ons have no console")
        addon = self._require(spec)
        words = command.split()
        if len(words) == 3 and words[0].upper() == "SET":
            addon.data[words[1]] = words[2]
            return ConsoleResult(0, "OK\n")
        if len(words) == 2 and words[0].upper() == "GET":
            return ConsoleResult(0, addon.data.get(words[1], "(nil)") + "\n")
        return ConsoleResult(0, f"fake {self.kind}: {command}\n")

    def capture_backup(self, spec: AddonSpec, destination: Path) -> BackupResult:
        self._require_postgres()
        content = json.dumps(self._require(spec).data, sort_keys=True).encode()
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_bytes(content)
        return BackupResult(size_bytes=len(content), sha256=hashlib.sha256(content).hexdigest())

    def restore_backup(self, spec: AddonSpec, source: Path) -> None:
        self._require_postgres()
        self._require(spec).data = json.loads(source.read_bytes())

    def backup_summary(self, spec: AddonSpec) -> list[str]:
        return [f"public.{key} (~1 rows)" for key in sorted(self._require(spec).data)]

    def _require_postgres(self) -> None:
        if self.kind != "postgres":
            raise UnsupportedOperation(f"{self.kind} add-ons have no backups")

    def _require(self, spec: AddonSpec) -> FakeAddon:
        addon = self.world.addons.get(spec.name)
        if addon is None or not addon.running:
            raise AddonError(f"{spec.name} is not running; Wharf restarts it shortly, try again in a minute")
        return addon


def fake_addon_providers(settings: Settings) -> AddonProviders:
    """In-memory providers for every kind, sharing one world; nothing crosses processes, so no locks."""
    world = FakeAddonWorld()
    fakes: dict[str, AddonProvider] = {kind: FakeAddonProvider(kind, world) for kind in KINDS}
    return AddonProviders(fakes, lock_dir=None)
