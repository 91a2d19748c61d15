"""The Swarm service that runs one dyno, built from its DynoSpec (Engine API 1.41).

What a service can say of a dyno, next to DockerRuntime's container: the same user (never root),
`init`, every capability dropped, a read-only root where the spec asks for one, tmpfs scratch paths,
per-dyno volumes for writable paths, bounded json-file logs, and the dyno size as limits (memory,
CPU, pids) and reservations (all its memory; its CPU share weight as a fraction of a CPU). What
API 1.41 services cannot say: no-new-privileges, CPU shares (the weight between dynos under
contention), swap limits and the writable layer's size (`--storage-opt`); see docs/cluster.md.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from typing import Any

from docker.types import (
    ContainerSpec,
    DriverConfig,
    EndpointSpec,
    Mount,
    Placement,
    Resources,
    RestartPolicy,
    ServiceMode,
    TaskTemplate,
)

from wharf.platform.runtime.base import DEFAULT_STOP_TIMEOUT, DynoSpec, size_named
from wharf.platform.runtime.placement import placement_constraints

HOSTNAME_MAX = 63
SERVICE_NAME_MAX = 63
LOG_DRIVER = DriverConfig("json-file", {"max-size": "10m", "max-file": "3"})
SCRATCH_MODE = 0o1777
NANOSECONDS = 1_000_000_000
CPU_SHARES_PER_CPU = 1024
# STATSD_HOST on the Swarm runtime: a name each task's /etc/hosts gives the address of its own node
# (Docker's `host-gateway`, the node's default bridge), where the node's agent receives statsd.
STATSD_HOSTNAME = "statsd.wharf.internal"


def cpu_reservation(cpu_shares: int) -> int:
    """The CPU a dyno reserves on its node: its share weight as a fraction of one CPU (1024 shares).

    Dynos share CPUs as on one host (a basic dyno's limit is one CPU, its reservation a quarter), so
    a two-CPU node holds eight basic dynos, not two; memory is reserved in full.
    """
    return cpu_shares * NANOSECONDS // CPU_SHARES_PER_CPU


def service_name(spec: DynoSpec) -> str:
    """A unique service name: `app-web-1-v4-1a2b3c` (Swarm allows letters, digits, `-` and `_`)."""
    base = re.sub(r"[^A-Za-z0-9_-]", "-", f"{spec.app}-{spec.process_type}-{spec.number}-v{spec.release}")
    suffix = f"-{secrets.token_hex(3)}"
    return base[: SERVICE_NAME_MAX - len(suffix)] + suffix


def statsd_environment(statsd_port: int | None) -> dict[str, str]:
    """STATSD_HOST and STATSD_PORT of a dyno on the Swarm runtime (none without a port)."""
    return {"STATSD_HOST": STATSD_HOSTNAME, "STATSD_PORT": str(statsd_port)} if statsd_port else {}


def service_options(
    spec: DynoSpec,
    *,
    user: str,
    labels: Mapping[str, str],
    network_id: str,
    max_nano_cpus: int,
    statsd_port: int | None = None,
) -> dict[str, Any]:
    """Keyword arguments of APIClient.create_service for the dyno's service."""
    size = size_named(spec.size)
    nano_cpus = min(size.nano_cpus, max_nano_cpus)
    resources = Resources(
        cpu_limit=nano_cpus,
        mem_limit=size.memory_bytes,
        cpu_reservation=cpu_reservation(size.cpu_shares),
        mem_reservation=size.memory_bytes,
    )
    resources["Limits"]["Pids"] = size.pids_limit  # API 1.41; the SDK has no argument for it
    mounts = [
        *(
            Mount(target=path, source=None, type="tmpfs", tmpfs_mode=SCRATCH_MODE)
            for path in spec.scratch_paths
        ),
        *(Mount(target=path, source=None, type="volume") for path in spec.writable_paths),
    ]
    container = ContainerSpec(
        image=spec.image,
        args=spec.argv,
        hostname=f"{spec.process_type}-{spec.number}"[-HOSTNAME_MAX:].lstrip("-_"),
        env={**spec.environment(), **statsd_environment(statsd_port)},
        hosts={STATSD_HOSTNAME: "host-gateway"} if statsd_port else None,
        user=user,
        labels=dict(labels),
        mounts=mounts,
        stop_grace_period=int(DEFAULT_STOP_TIMEOUT * NANOSECONDS),
        read_only=spec.read_only_root,
        init=True,
        cap_drop=["ALL"],
    )
    template = TaskTemplate(
        container,
        resources=resources,
        restart_policy=RestartPolicy(condition="none"),
        placement=Placement(constraints=placement_constraints(spec.labels)),
        networks=[network_id],
        log_driver=LOG_DRIVER,
    )
    # dnsrr: no virtual IP (Swarm's IPVS load balancing); the router reaches each task directly on
    # its node's host-mode port, which the engine picks.
    endpoint = EndpointSpec(mode="dnsrr")
    endpoint["Ports"] = [{"Protocol": "tcp", "TargetPort": spec.port, "PublishMode": "host"}]
    return {
        "task_template": template,
        "name": service_name(spec),
        "labels": dict(labels),
        "mode": ServiceMode("replicated", replicas=1),
        "endpoint_spec": endpoint,
    }
