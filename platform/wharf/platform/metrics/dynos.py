"""Dyno metrics from Docker's stats (the cgroups): CPU, memory RSS and swap, restarts and exit codes.

Every `interval` seconds the collector lists this installation's dynos once and reads each running
one's stats with a single one-shot call (no streaming, no second sample: CPU is the difference from
the collector's own previous reading). A dyno that exited since the last round counts as a restart
of its process type, with its exit code. The same listing maps dyno addresses to apps for statsd:
on one host, each dyno's address on its app network; on a swarm node, also its address on the node's
gateway bridge (`docker_gwbridge`), the source of what it sends to its node (see node_agent).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass
from typing import Any

from wharf.platform.metrics.aggregate import DeltaBuffer
from wharf.platform.metrics.store import MetricsStore, minute_of
from wharf.platform.runtime.base import (
    LABEL_APP,
    LABEL_ATTACHED,
    LABEL_INSTALLATION,
    LABEL_MANAGED,
    LABEL_PROCESS_TYPE,
)

logger = logging.getLogger(__name__)

MIB = 1024 * 1024
EXIT_STATUS = re.compile(r"Exited \((-?\d+)\)")


@dataclass(frozen=True)
class DynoAddress:
    app: str
    process_type: str


class DynoDirectory:
    """Which app's dyno has which address, from the container listing (refreshed on a miss, 1/s at most).

    With `gateway_bridge`, a dyno's address on that network counts too: Swarm lists a task's
    endpoint on the node's gateway bridge there, not in the container's own networks.
    """

    def __init__(
        self, docker_api: Any, *, installation: str | None = None, gateway_bridge: str | None = None
    ) -> None:
        self.api = docker_api
        self.gateway_bridge = gateway_bridge
        self.label_filter = [f"{LABEL_MANAGED}=1"] + (
            [f"{LABEL_INSTALLATION}={installation}"] if installation else []
        )
        self._addresses: dict[str, DynoAddress] = {}
        self._refreshed = 0.0
        self._lock = threading.Lock()

    def containers(self, *, all_states: bool = False) -> list[dict[str, Any]]:
        listed: list[dict[str, Any]] = self.api.containers(
            all=all_states, filters={"label": self.label_filter}
        )
        self._remember(listed)
        return listed

    def _remember(self, listed: list[dict[str, Any]]) -> None:
        addresses: dict[str, DynoAddress] = {}
        running: dict[str, DynoAddress] = {}
        for container in listed:
            labels = container.get("Labels") or {}
            if container.get("State") != "running" or LABEL_APP not in labels:
                continue
            dyno = running[container.get("Id", "")] = DynoAddress(
                labels[LABEL_APP], labels.get(LABEL_PROCESS_TYPE, "")
            )
            networks = (container.get("NetworkSettings") or {}).get("Networks") or {}
            for network in networks.values():
                if network.get("IPAddress"):
                    addresses[network["IPAddress"]] = dyno
        if self.gateway_bridge:
            addresses.update(self._on_gateway_bridge(running, addresses))
        with self._lock:
            self._addresses = addresses
            self._refreshed = time.monotonic()

    def _on_gateway_bridge(
        self, running: dict[str, DynoAddress], known: dict[str, DynoAddress]
    ) -> dict[str, DynoAddress]:
        """The addresses of the running dynos (by container id) on the gateway bridge (none if the node
        has no such network)."""
        try:
            endpoints = self.api.inspect_network(self.gateway_bridge).get("Containers") or {}
        except Exception as error:  # no swarm on this node yet, or Docker away
            logger.debug("cannot read %s: %s", self.gateway_bridge, error)
            return {}
        found: dict[str, DynoAddress] = {}
        for container_id, endpoint in endpoints.items():
            address = str((endpoint or {}).get("IPv4Address") or "").partition("/")[0]
            if container_id in running and address and address not in known:
                found[address] = running[container_id]
        return found

    def app_of(self, address: str) -> str | None:
        with self._lock:
            found = self._addresses.get(address)
            stale = time.monotonic() - self._refreshed > 1.0
        if found is None and stale:
            try:
                self.containers()
            except Exception as error:  # Docker away: drop the packet
                logger.warning("cannot list dynos: %s", error)
                return None
            with self._lock:
                found = self._addresses.get(address)
        return found.app if found is not None else None


def cpu_percent(previous: dict[str, Any] | None, current: dict[str, Any]) -> float | None:
    """CPU use between two readings, in percent of one core (as `docker stats` shows it)."""
    if previous is None:
        return None
    try:
        used = current["cpu_usage"]["total_usage"] - previous["cpu_usage"]["total_usage"]
        system = current["system_cpu_usage"] - previous["system_cpu_usage"]
        cores = current.get("online_cpus") or len(current["cpu_usage"].get("percpu_usage") or [1])
    except (KeyError, TypeError):
        return None
    if system <= 0 or used < 0:
        return None
    return float(used) / float(system) * int(cores) * 100.0


def memory_rss_bytes(memory: dict[str, Any]) -> float | None:
    """Resident anonymous memory: cgroup v2's `anon`, v1's `rss`."""
    stats = memory.get("stats") or {}
    for name in ("anon", "rss", "total_rss"):
        if name in stats:
            return float(stats[name])
    usage = memory.get("usage")
    return float(usage) - float(stats.get("inactive_file", 0)) if usage is not None else None


class DynoCollector:
    """Reads every running dyno's stats each `interval` seconds into per-minute metrics."""

    def __init__(self, directory: DynoDirectory, store: MetricsStore, *, interval: float = 15.0) -> None:
        self.directory = directory
        self.buffer = DeltaBuffer(store, interval=interval)
        self.interval = interval
        self._cpu: dict[str, dict[str, Any]] = {}
        self._exited: set[str] | None = None

    def collect(self, now: float | None = None) -> None:
        now = time.time() if now is None else now
        listed = self.directory.containers(all_states=True)
        running = [c for c in listed if c.get("State") == "running" and not self._attached(c)]
        for container in running:
            self._read(container, now)
        self._count_exits(listed, now)
        live = {c["Id"] for c in running}
        for gone in set(self._cpu) - live:
            del self._cpu[gone]

    @staticmethod
    def _attached(container: dict[str, Any]) -> bool:
        return (container.get("Labels") or {}).get(LABEL_ATTACHED) == "1"

    def _read(self, container: dict[str, Any], now: float) -> None:
        labels = container.get("Labels") or {}
        try:
            stats = self.directory.api.stats(container["Id"], stream=False, one_shot=True)
        except Exception as error:  # the dyno stopped meanwhile
            logger.debug("no stats for %s: %s", container["Id"][:12], error)
            return
        prefix = f"p|{labels.get(LABEL_PROCESS_TYPE, '')}|"
        cpu_now = stats.get("cpu_stats") or {}
        cpu = cpu_percent(self._cpu.get(container["Id"]), cpu_now)
        self._cpu[container["Id"]] = cpu_now
        memory = stats.get("memory_stats") or {}
        rss = memory_rss_bytes(memory)
        with self.buffer.locked():
            delta = self.buffer.delta(labels.get(LABEL_APP, ""), minute_of(now))
            if delta is None:
                return
            if cpu is not None:
                delta.add[prefix + "cpu_sum"] += round(cpu, 3)
                delta.add[prefix + "cpu_n"] += 1
            if rss is not None:
                delta.top(prefix + "rss_max", round(rss / MIB, 2))
            swap = (memory.get("stats") or {}).get("swap")
            if swap is not None:
                delta.top(prefix + "swap_max", round(float(swap) / MIB, 2))
            if memory.get("limit"):
                delta.last[prefix + "limit_mb"] = round(float(memory["limit"]) / MIB, 1)

    def _count_exits(self, listed: list[dict[str, Any]], now: float) -> None:
        exited = {
            c["Id"]: c for c in listed if c.get("State") in ("exited", "dead") and not self._attached(c)
        }
        if self._exited is None:  # the first round: exits before the collector started are history
            self._exited = set(exited)
            return
        for container_id in set(exited) - self._exited:
            container = exited[container_id]
            labels = container.get("Labels") or {}
            match = EXIT_STATUS.search(str(container.get("Status", "")))
            prefix = f"p|{labels.get(LABEL_PROCESS_TYPE, '')}|"
            with self.buffer.locked():
                delta = self.buffer.delta(labels.get(LABEL_APP, ""), minute_of(now))
                if delta is None:
                    continue
                delta.add[prefix + "restarts"] += 1
                delta.add[f"{prefix}exit|{match.group(1) if match else 'unknown'}"] += 1
        self._exited = set(exited)

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            started = time.monotonic()
            try:
                self.collect()
                self.buffer.flush()
            except Exception as error:  # Docker or Redis away: the next round tries again
                logger.warning("dyno metrics round failed: %s", error)
            stop.wait(max(1.0, self.interval - (time.monotonic() - started)))
