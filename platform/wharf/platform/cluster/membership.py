"""Joining a swarm and leaving it: the first node, a new node, and the command a new host runs.

Swarm mode refuses an engine with live-restore on, which Wharf's installer turns on for one host:
`init_swarm` and `join_swarm` refuse such an engine with the change to make, rather than editing
/etc/docker/daemon.json and restarting an engine with dynos on it behind the operator's back.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wharf.platform.cluster.errors import NOT_A_MANAGER, NOT_IN_SWARM, ClusterError

if TYPE_CHECKING:
    import docker

SWARM_PORT = 2377
# The overlay networks' addresses (one /24 per app network). Swarm's own default is all of 10.0.0.0/8,
# which overlaps the app networks' pools (10.200.0.0/13) and most private networks.
OVERLAY_ADDRESS_POOL = "10.240.0.0/12"
OVERLAY_SUBNET_SIZE = 24
# How often each node reports to the managers. Swarm marks a node down after about three missed
# periods: at Swarm's default of 5 s that is ~15 s, and at 2 s ~6 s, so a dead node's dynos are
# replaced well within 30 s (see docs/cluster.md, "Losing a node"), for one small message every 2 s
# per node.
DISPATCHER_HEARTBEAT_SECONDS = 2
LIVE_RESTORE_REFUSED = (
    'Swarm mode refuses an engine with live-restore on. Set "live-restore": false in '
    "/etc/docker/daemon.json, restart dockerd (systemctl restart docker; the dynos on this host restart "
    "with it), then run this command again"
)


@dataclass(frozen=True)
class SwarmMembership:
    node_id: str
    swarm_id: str
    is_manager: bool
    manager_address: str


def local_swarm_state(client: docker.DockerClient) -> str:
    """The engine's LocalNodeState: "inactive", "pending", "active", "error" or "locked"."""
    info: dict[str, Any] = client.info()
    return str(info.get("Swarm", {}).get("LocalNodeState", "inactive"))


def membership(client: docker.DockerClient) -> SwarmMembership:
    """What this engine is in its swarm; ClusterError if it is in none."""
    swarm = client.info().get("Swarm", {})
    if swarm.get("LocalNodeState") != "active":
        raise ClusterError(NOT_IN_SWARM)
    managers = swarm.get("RemoteManagers") or []
    return SwarmMembership(
        node_id=str(swarm.get("NodeID", "")),
        swarm_id=str(swarm.get("Cluster", {}).get("ID", "")),
        is_manager=bool(swarm.get("ControlAvailable")),
        manager_address=str(managers[0]["Addr"]) if managers else "",
    )


def require_manager(client: docker.DockerClient) -> SwarmMembership:
    joined = membership(client)
    if not joined.is_manager:
        raise ClusterError(NOT_A_MANAGER)
    return joined


def refuse_live_restore(client: docker.DockerClient) -> None:
    if client.info().get("LiveRestoreEnabled"):
        raise ClusterError(LIVE_RESTORE_REFUSED)


def init_swarm(
    client: docker.DockerClient,
    advertise_address: str | None = None,
    *,
    address_pool: str = OVERLAY_ADDRESS_POOL,
) -> SwarmMembership:
    """Make this engine the first manager of a new swarm (or return the swarm it already manages),
    its overlay networks' /24s taken from `address_pool`, its nodes' heartbeat every
    DISPATCHER_HEARTBEAT_SECONDS."""
    import docker

    if local_swarm_state(client) == "active":
        return require_manager(client)
    refuse_live_restore(client)
    try:
        client.swarm.init(
            advertise_addr=advertise_address,
            listen_addr=f"0.0.0.0:{SWARM_PORT}",
            default_addr_pool=[address_pool],
            subnet_size=OVERLAY_SUBNET_SIZE,
            dispatcher_heartbeat_period=DISPATCHER_HEARTBEAT_SECONDS * 1_000_000_000,
        )
    except docker.errors.APIError as error:
        raise ClusterError(_advice(str(error.explanation or error))) from None
    return require_manager(client)


def join_swarm(
    client: docker.DockerClient, *, token: str, manager: str, advertise_address: str | None = None
) -> SwarmMembership:
    """Join this engine to the swarm `manager` (host:port) runs, as the token's role."""
    import docker

    if local_swarm_state(client) == "active":
        raise ClusterError(
            "this engine is already part of a swarm: run `docker swarm leave` on it first if it should "
            "join another one"
        )
    refuse_live_restore(client)
    try:
        client.swarm.join(
            remote_addrs=[manager],
            join_token=token,
            listen_addr=f"0.0.0.0:{SWARM_PORT}",
            advertise_addr=advertise_address,
        )
    except docker.errors.APIError as error:
        raise ClusterError(_advice(str(error.explanation or error))) from None
    return membership(client)


def leave_swarm(client: docker.DockerClient, *, force: bool = False) -> None:
    """This engine leaves its swarm (a manager only with `force`: Swarm refuses otherwise)."""
    import docker

    if local_swarm_state(client) != "active":
        return
    try:
        client.swarm.leave(force=force)
    except docker.errors.APIError as error:
        raise ClusterError(str(error.explanation or error)) from None


def join_command(client: docker.DockerClient, *, role: str = "worker") -> list[str]:
    """The `wharfd node join …` a new host runs, with this swarm's current token for `role`."""
    joined = require_manager(client)
    client.swarm.reload()
    token = client.swarm.attrs["JoinTokens"]["Manager" if role == "manager" else "Worker"]
    address = _manager_address(client, joined)
    return ["wharfd", "node", "join", "--token", str(token), address]


def format_command(argv: list[str]) -> str:
    return shlex.join(argv)


def _manager_address(client: docker.DockerClient, joined: SwarmMembership) -> str:
    node = client.nodes.get(joined.node_id)
    address = str(node.attrs.get("ManagerStatus", {}).get("Addr", "")) or joined.manager_address
    if not address:
        raise ClusterError("the manager's address is unknown: run `docker node inspect self` to see why")
    return address


def _advice(message: str) -> str:
    if "advertise address" in message or "--advertise-addr" in message:
        return f"{message}: pass --advertise-addr ADDRESS (this host's address the other nodes reach)"
    if "live-restore" in message:
        return LIVE_RESTORE_REFUSED
    return message
