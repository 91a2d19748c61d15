"""Which nodes of a multi-node runtime answer: a dead node's dynos are taken out of rotation in seconds.

Swarm marks a node down only after several missed heartbeats (about 6 s at the 2 s heartbeat
`wharfd cluster init` sets), and until then its tasks read as running. The router need not wait for
that: every half second the scheduler's process opens a TCP connection to each node's Swarm gossip
port (7946/tcp, which every node of a swarm listens on, answered by the node's kernel however busy
its engine is). A node that fails two probes in a row is unreachable, and the dynos on it become
standby backends (routing.set_unreachable_hosts): nginx sends them requests only if none of the app's
other dynos can take one. One answered probe makes the node reachable again. Replacing the dynos
stays Swarm's down mark's business (the runtime reads their tasks as lost then): a false alarm costs a
few seconds of balance, never a restart.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol, runtime_checkable

import redis

from wharf.platform.routing import set_unreachable_hosts

log = logging.getLogger(__name__)

GOSSIP_PORT = 7946
PROBE_INTERVAL = 0.5
PROBE_TIMEOUT = 0.5
FAILURES_TO_UNREACHABLE = 2
# How often the list of nodes is read again from the runtime.
NODES_REFRESH_SECONDS = 10.0

Probe = Callable[[str], bool]


@runtime_checkable
class MultiNodeRuntime(Protocol):
    """A runtime whose dynos are published on the addresses of several nodes."""

    def node_addresses(self) -> list[str]:
        """The address of every node the runtime may run a dyno on."""
        ...


def answers(address: str, port: int = GOSSIP_PORT, timeout: float = PROBE_TIMEOUT) -> bool:
    """Whether a TCP connection to `address`:`port` is accepted within `timeout` seconds."""
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:
        return False


class NodeReachability:
    """Probes nodes and keeps the route table's set of unreachable node addresses up to date."""

    def __init__(
        self,
        client: redis.Redis[bytes],
        *,
        probe: Probe = answers,
        failures_to_unreachable: int = FAILURES_TO_UNREACHABLE,
    ) -> None:
        self._client = client
        self._probe = probe
        self._needed = failures_to_unreachable
        self._failures: dict[str, int] = {}
        self._published: set[str] | None = None
        self._pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="node-probe")

    def probe_once(self, addresses: Iterable[str]) -> set[str]:
        """Probe every address once; the unreachable ones, published if they changed."""
        wanted = sorted(set(addresses))
        results = dict(zip(wanted, self._pool.map(self._probe, wanted), strict=True))
        self._failures = {a: 0 if ok else self._failures.get(a, 0) + 1 for a, ok in results.items()}
        unreachable = {a for a, failed in self._failures.items() if failed >= self._needed}
        if unreachable != self._published:
            for address in sorted(unreachable - (self._published or set())):
                log.warning("node %s does not answer: its dynos are standby in the route table", address)
            for address in sorted((self._published or set()) - unreachable):
                log.info("node %s answers again: its dynos take requests", address)
            set_unreachable_hosts(self._client, unreachable)
            self._published = unreachable
        return unreachable

    def run(self, runtime: MultiNodeRuntime, stop: threading.Event) -> None:
        """Probe the runtime's nodes every PROBE_INTERVAL until `stop` is set."""
        addresses: list[str] = []
        refreshed = float("-inf")
        try:
            while not stop.is_set():
                began = time.monotonic()
                try:
                    if began - refreshed >= NODES_REFRESH_SECONDS:
                        addresses = runtime.node_addresses()
                        refreshed = began
                    self.probe_once(addresses)
                except Exception:
                    log.warning("probing the nodes failed; trying again", exc_info=True)
                stop.wait(max(0.0, PROBE_INTERVAL - (time.monotonic() - began)))
        finally:
            self._pool.shutdown(wait=False)
