"""The node agent: on every node of a swarm, its own engine's dyno logs and metrics into the control
plane's Redis.

It runs as a task of Wharf's global service (wharf.platform.cluster.agent_service), one per node, as
`python3 -m wharf.platform.cluster.node_agent`, with the node's Docker socket mounted read-only. It
runs the log shipper (with cursors of its own node) and the dyno metrics collector against that
engine, so each node ships only the dynos it runs, the managers' included. It also receives its node's
dynos' statsd packets: a dyno on the Swarm runtime sends to STATSD_HOST, a name its service maps to the
node's `host-gateway` address (the default bridge's), which the agent, in the node's network
namespace, listens on; a packet's source is the sending dyno's address on the node's gateway bridge,
and so names its app, as on one host. It starts and relays the attached one-offs (`wharf run`) that
the API places on its node (oneoff_host.py), and the builds the build worker sends a builder node
(build_host.py), through the same Redis. It reads its settings from
the environment and the Redis URL (with its password) from a Swarm secret file, and imports neither
the settings nor the database: its image holds only the Redis and Docker clients.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wharf.platform.cluster.build_host import BuildHost
from wharf.platform.cluster.oneoff_host import OneOffHost
from wharf.platform.logs.shipper import LogShipper
from wharf.platform.logs.stream import DEFAULT_MAX_AGE_HOURS, DEFAULT_MAX_LINES, LogWriter
from wharf.platform.metrics.dynos import DynoCollector, DynoDirectory
from wharf.platform.metrics.statsd import StatsdAggregator, StatsdListener
from wharf.platform.metrics.store import MetricsStore

logger = logging.getLogger(__name__)

# The name of the Swarm secret (and of its file in the task) that holds the Redis URL, not a secret.
REDIS_URL_SECRET = "wharf-node-agent-redis-url"  # noqa: S105
# The network through which a node's Swarm tasks reach the node itself (and the outside).
GATEWAY_BRIDGE = "docker_gwbridge"
# The agents' statsd port on every node: not the single-host listener's 8125, since both run on the
# first manager while `wharfd cluster init` moves its apps.
NODE_STATSD_PORT = 8126


@dataclass(frozen=True)
class AgentTuning:
    """How much log the agent keeps per app and how often it reads the dynos' stats."""

    log_max_lines: int = DEFAULT_MAX_LINES
    log_max_age_hours: float = DEFAULT_MAX_AGE_HOURS
    metrics_interval: float = 15.0
    # 0: no statsd listener.
    statsd_port: int = NODE_STATSD_PORT
    statsd_max_series: int = 100

    def to_environment(self) -> dict[str, str]:
        return {
            "WHARF_LOG_MAX_LINES": str(self.log_max_lines),
            "WHARF_LOG_MAX_AGE_HOURS": str(self.log_max_age_hours),
            "WHARF_METRICS_DYNO_INTERVAL": str(self.metrics_interval),
            "WHARF_NODE_STATSD_PORT": str(self.statsd_port),
            "WHARF_STATSD_MAX_SERIES": str(self.statsd_max_series),
        }

    @classmethod
    def from_environment(cls, environ: dict[str, str]) -> AgentTuning:
        return cls(
            log_max_lines=int(environ.get("WHARF_LOG_MAX_LINES", DEFAULT_MAX_LINES)),
            log_max_age_hours=float(environ.get("WHARF_LOG_MAX_AGE_HOURS", DEFAULT_MAX_AGE_HOURS)),
            metrics_interval=float(environ.get("WHARF_METRICS_DYNO_INTERVAL", "15")),
            statsd_port=int(environ.get("WHARF_NODE_STATSD_PORT", NODE_STATSD_PORT)),
            statsd_max_series=int(environ.get("WHARF_STATSD_MAX_SERIES", "100")),
        )


@dataclass(frozen=True)
class AgentConfig:
    """What a task of the agent's service reads from its environment and its secret."""

    redis_url: str
    node_id: str
    installation: str | None
    tuning: AgentTuning

    @classmethod
    def from_environment(cls, environ: dict[str, str]) -> AgentConfig:
        secret = Path(environ.get("WHARF_REDIS_URL_FILE", f"/run/secrets/{REDIS_URL_SECRET}"))
        return cls(
            redis_url=secret.read_text().strip(),
            node_id=environ["WHARF_NODE_ID"],
            # None: every Wharf dyno on this engine, as when one Wharf runs the swarm.
            installation=environ.get("WHARF_INSTALLATION_ID") or None,
            tuning=AgentTuning.from_environment(environ),
        )


def run_node_agent(config: AgentConfig, docker_client: Any, stop: threading.Event) -> None:
    """Ship this engine's dyno output, collect its dynos' stats, receive their statsd packets and
    run the attached one-offs the API places on this node, until `stop` is set."""
    import redis

    docker_api = docker_client.api

    client = redis.Redis.from_url(config.redis_url, socket_timeout=30, health_check_interval=30)
    tuning = config.tuning
    writer = LogWriter(client, max_lines=tuning.log_max_lines, max_age_hours=tuning.log_max_age_hours)
    shipper = LogShipper(docker_api, writer, installation=config.installation, node=config.node_id)
    directory = DynoDirectory(docker_api, installation=config.installation, gateway_bridge=GATEWAY_BRIDGE)
    store = MetricsStore(client)
    collector = DynoCollector(directory, store, interval=tuning.metrics_interval)
    threads = [
        threading.Thread(target=shipper.run, name="log-shipper"),
        threading.Thread(target=collector.run, args=(stop,), name="dyno-metrics"),
    ]
    if tuning.statsd_port:
        aggregator = StatsdAggregator(store, max_series=tuning.statsd_max_series)
        # Every address of the node: a dyno sends to the default bridge's, which its service names.
        listener = StatsdListener(aggregator, directory.app_of, port=tuning.statsd_port)
        logger.info("statsd listening on port %d (udp)", listener.port)
        threads.append(threading.Thread(target=listener.serve, args=(stop,), name="statsd"))
    oneoffs = OneOffHost(
        config.redis_url,
        docker_client,
        node_id=config.node_id,
        installation=config.installation,
        statsd_port=tuning.statsd_port or None,
    )
    threads.append(threading.Thread(target=oneoffs.serve, args=(stop,), name="one-offs"))
    builds = BuildHost(
        config.redis_url, docker_client, node_id=config.node_id, installation=config.installation
    )
    threads.append(threading.Thread(target=builds.serve, args=(stop,), name="builds"))
    for thread in threads:
        thread.start()
    stop.wait()
    shipper.stop.set()
    for thread in threads:
        thread.join(timeout=30)


def main() -> None:
    import docker

    from wharf.platform.cluster.registry_trust import start_registry_trust

    logging.basicConfig(level=logging.INFO, format="node-agent: %(levelname)s %(message)s")
    config = AgentConfig.from_environment(dict(os.environ))
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    logger.info("shipping the dynos of node %s", config.node_id)
    trust = start_registry_trust(dict(os.environ), stop)
    run_node_agent(config, docker.from_env(timeout=30), stop)
    if trust is not None:
        trust.join(timeout=30)


if __name__ == "__main__":
    main()
