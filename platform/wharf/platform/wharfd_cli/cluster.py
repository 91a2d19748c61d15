"""`wharfd cluster init`, `wharfd nodes`, `nodes:add`, `nodes:drain`, `nodes:remove` and `wharfd node join`:
the hosts of a Docker Swarm (wharf.platform.cluster), driven through this host's engine."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from wharf.platform.cluster.agent_service import ENGINE_SOCKET
from wharf.platform.wharfd_cli.common import _fail, _settings, console

if TYPE_CHECKING:
    import docker

    from wharf.platform.settings import Settings

NodeArgument = Annotated[str, typer.Argument(help="The node's id (or a unique prefix of it) or hostname.")]


@contextmanager
def _engine() -> Iterator[docker.DockerClient]:
    """This host's engine; every cluster error becomes the message that says what to do."""
    import docker

    from wharf.platform.cluster.errors import ClusterError

    try:
        client = docker.from_env(timeout=60)
        client.ping()
    except docker.errors.DockerException as error:
        _fail(f"cannot reach the Docker Engine ({error}): start dockerd (systemctl start docker)")
    try:
        yield client
    except ClusterError as error:
        _fail(str(error))
    except docker.errors.APIError as error:
        _fail(f"the Docker Engine refused: {error.explanation or error}")
    finally:
        client.close()


AgentsRedisUrl = Annotated[
    str | None,
    typer.Option(
        "--agents-redis-url",
        help="The control plane's Redis as every node reaches it (redis://:PASSWORD@HOST:6379/0), for the "
        "node agents that ship each node's dyno logs and metrics.",
    ),
]
EngineSocket = Annotated[
    str,
    typer.Option("--engine-socket", help="The Docker socket's path on every node, mounted read-only."),
]


def _deploy_agents(
    client: docker.DockerClient,
    settings: Settings,
    redis_url: str | None,
    engine_socket: str,
    registry: str | None,
) -> None:
    """Build the node agent's image here and run it on every node (a global service), each agent
    keeping its node trusting `registry`, if the swarm has one."""
    from wharf.platform.cluster.agent_service import AgentDeployment, deploy_node_agents
    from wharf.platform.cluster.node_agent import AgentTuning
    from wharf.platform.cluster.registry_trust import RegistryTrust
    from wharf.platform.security.authority import root_pem

    redis_url = redis_url or settings.redis_url
    if not redis_url or redis_url.startswith("unix://"):
        print("The node agents need the control plane's Redis at an address every node reaches: run")
        print("  wharfd cluster agents --agents-redis-url redis://:PASSWORD@HOST:6379/0")
        return
    image = _build_agent_image(client, settings.wharf_run_image)
    if image is None:
        return
    trust = RegistryTrust(registry, root_pem(settings.wharf_data_dir).encode()) if registry else None
    deployment = AgentDeployment(
        image=image,
        redis_url=redis_url,
        installation=settings.installation_id,
        engine_socket=engine_socket,
        tuning=AgentTuning(
            log_max_lines=settings.wharf_log_max_lines,
            log_max_age_hours=settings.wharf_log_max_age_hours,
            metrics_interval=settings.wharf_metrics_dyno_interval,
            statsd_port=settings.wharf_node_statsd_port,
            statsd_max_series=settings.wharf_statsd_max_series,
        ),
        registry_trust=trust,
    )
    service_id = deploy_node_agents(client, deployment)
    print(f"Node agents ({image}) run on every node as the global service {service_id[:12]}.")
    if registry:
        print(f"Each keeps Wharf's root CA in its node's /etc/docker/certs.d/{registry}/ca.crt.")


def cluster_init(
    advertise_addr: Annotated[
        str | None,
        typer.Option("--advertise-addr", help="The address other nodes reach this host at."),
    ] = None,
    address_pool: Annotated[
        str,
        typer.Option(
            "--address-pool",
            help="Where app overlay networks take their /24s from; must not overlap host networks.",
        ),
    ] = "10.240.0.0/12",
    registry: Annotated[
        bool,
        typer.Option(
            "--registry/--no-registry",
            help="Run the image registry the nodes pull release images from on this host.",
        ),
    ] = True,
    registry_port: Annotated[int, typer.Option("--registry-port", help="The registry's port.")] = 5443,
    agents_redis_url: AgentsRedisUrl = None,
    engine_socket: EngineSocket = ENGINE_SOCKET,
) -> None:
    """Make this host the first node (a manager) of a Docker Swarm, with the image registry the nodes
    pull release images from and a node agent on every node, and, with `wharfd up` running, move every
    app's dynos onto it without a failed request. Refuses an engine with live-restore on, saying what to
    change."""
    from wharf.platform.cluster.membership import init_swarm
    from wharf.platform.cluster.state import save_cluster_choice
    from wharf.platform.operations import running_supervisor
    from wharf.platform.registry.nodes import node_address, registry_on_manager

    settings = _settings()
    registry_host = None
    with _engine() as client:
        joined = init_swarm(client, advertise_addr, address_pool=address_pool)
        if registry:
            address = advertise_addr or node_address(client, joined.node_id)
            running = registry_on_manager(client, settings.wharf_data_dir, address, print, port=registry_port)
            registry_host = running.host
        path = save_cluster_choice(
            settings.cluster_state_path,
            node_id=joined.node_id,
            swarm_id=joined.swarm_id,
            registry=registry_host,
        )
        print(f"This host is the swarm's manager (node {joined.node_id}); the choice is kept in {path}.")
        _deploy_agents(client, settings, agents_redis_url, engine_socket, registry_host)
        if running_supervisor(settings.supervisor_state_path) is not None:
            _move_apps(settings, client, registry_host)
        else:
            print("wharfd up is not running: start it, then run `wharfd cluster init` again to move the")
            print("apps' dynos onto the swarm (until then they keep running as plain containers).")
    print("Add hosts with: wharfd nodes:add")


def cluster_agents(
    agents_redis_url: AgentsRedisUrl = None,
    engine_socket: EngineSocket = ENGINE_SOCKET,
) -> None:
    """Run (or update) the node agents: every node's dyno logs and metrics into the control plane's Redis."""
    from wharf.platform.cluster.membership import require_manager

    settings = _settings()
    with _engine() as client:
        require_manager(client)
        _deploy_agents(client, settings, agents_redis_url, engine_socket, settings.wharf_registry)


MOVED_COMPONENTS = ("api", "services")


def _move_apps(settings: Settings, client: docker.DockerClient, registry: str | None) -> None:
    """The move onto the swarm (wharf.platform.cluster.moving), its services naming the registry's copy
    of each release image when there is a registry, then the control plane's API and services restarted
    by `wharfd up` on the Swarm runtime."""
    from wharf.platform.cluster.moving import move_to_swarm
    from wharf.platform.operations import restart_components
    from wharf.platform.registry.release_images import release_images_for
    from wharf.platform.runtime.docker_runtime import DockerRuntime
    from wharf.platform.runtime.swarm_runtime import SwarmRuntime

    installation = settings.installation_id
    images = release_images_for(client, registry, settings.wharf_data_dir) if registry else None
    report = move_to_swarm(
        settings,
        engine=client,
        source=DockerRuntime(client, installation=installation),
        target=SwarmRuntime(client, installation=installation, images=images),
    )
    print(
        f"Moved {report.started} dynos of {len(report.apps)} apps onto the swarm in {report.seconds:.0f} s."
    )
    restarted = restart_components(settings.supervisor_state_path, MOVED_COMPONENTS)
    print(f"Restarted {', '.join(restarted) or 'nothing'}: wharfd up now runs on the Swarm runtime.")


def nodes(as_json: Annotated[bool, typer.Option("--json", help="Print the nodes as JSON.")] = False) -> None:
    """The swarm's nodes: role, state, availability, Wharf dynos, CPU and memory free."""
    from wharf.platform.cluster.membership import require_manager
    from wharf.platform.cluster.nodes import list_nodes

    with _engine() as client:
        require_manager(client)
        reports = list_nodes(client)
    if as_json:
        print(json.dumps([report.to_json() for report in reports], indent=2))
        return
    print(f"{'ID':<13}{'HOSTNAME':<20}{'ROLE':<9}{'STATE':<8}{'AVAIL':<8}{'ADDRESS':<16}DYNOS  CPU  MEMORY")
    for r in reports:
        print(
            f"{r.id[:12]:<13}{r.hostname[:19]:<20}{r.role:<9}{r.state:<8}{r.availability:<8}"
            f"{r.address:<16}{r.dynos:<7}{r.cpu_free:<5g}{r.memory_free_mb} MB"
        )


def nodes_add(
    manager: Annotated[bool, typer.Option("--manager", help="Join as a manager, not a worker.")] = False,
) -> None:
    """Print the command a new host runs to join this swarm (and trust its image registry)."""
    from wharf.platform.cluster.membership import format_command, join_command
    from wharf.platform.registry.nodes import join_options
    from wharf.platform.security.authority import root_pem

    settings = _settings()
    with _engine() as client:
        argv = join_command(client, role="manager" if manager else "worker")
    if settings.wharf_registry:
        registry_root = root_pem(settings.wharf_data_dir).encode()
        argv[-1:-1] = join_options(settings.wharf_registry, registry_root)
    print("On the new host (Wharf installed, dockerd running with live-restore off), run:")
    print(f"  {format_command(argv)}")
    print("It checks ports 2377/tcp, 7946/tcp+udp and 4789/udp first and installs nothing but the")
    print("registry's CA in /etc/docker/certs.d. Add --advertise-addr ADDRESS if that host has several")
    print("addresses.")


def nodes_drain(
    node: NodeArgument,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait for its dynos to move.")] = 300,
) -> None:
    """Move every dyno off NODE (Swarm starts them elsewhere) and wait until none is left on it."""
    from wharf.platform.cluster.draining import drain_node

    with _engine() as client:
        drain_node(client, node, progress=print, timeout=timeout)


def nodes_remove(
    node: NodeArgument,
    force: Annotated[bool, typer.Option("--force", help="Remove it even if it was not drained.")] = False,
) -> None:
    """Remove NODE from the swarm (drain it first: wharfd nodes:drain NODE)."""
    from wharf.platform.cluster.draining import remove_node

    with _engine() as client:
        removed = remove_node(client, node, force=force)
    print(f"Removed node {removed}. If that host is still up, run `docker swarm leave` on it.")


def node_join(
    manager: Annotated[str, typer.Argument(help="The manager's address, HOST:2377.")],
    token: Annotated[str, typer.Option("--token", help="The join token wharfd nodes:add printed.")],
    advertise_addr: Annotated[
        str | None,
        typer.Option("--advertise-addr", help="The address other nodes reach this host at."),
    ] = None,
    registry: Annotated[
        str | None, typer.Option("--registry", help="The swarm's image registry, ADDRESS:PORT.")
    ] = None,
    registry_ca: Annotated[
        str | None,
        typer.Option("--registry-ca", help="The SHA-256 fingerprint of the registry's root CA."),
    ] = None,
) -> None:
    """Join this host's engine to a swarm, after checking the ports Swarm needs. Installs nothing but
    the registry's root CA where Docker looks for it (/etc/docker/certs.d/ADDRESS:PORT/ca.crt)."""
    from wharf.platform.cluster.membership import join_swarm
    from wharf.platform.cluster.ports import check_ports
    from wharf.platform.registry.nodes import trust_registry_from_join
    from wharf.platform.registry.trust import UntrustedRegistry

    host = manager.rsplit(":", 1)[0]
    checks = check_ports(host)
    for check in checks:
        print(check.line())
    if not all(check.ok for check in checks):
        _fail("the ports above must be open before this host joins; nothing was changed")
    console.print("[dim]4789/udp and 7946/udp must also pass the firewall between the nodes.[/dim]")
    if (registry is None) != (registry_ca is None):
        _fail("--registry and --registry-ca go together: copy both from what wharfd nodes:add printed")
    if registry is not None and registry_ca is not None:
        try:
            trust_registry_from_join(registry, registry_ca, print)
        except (UntrustedRegistry, OSError) as error:
            _fail(f"{error}; nothing was changed")
    with _engine() as client:
        joined = join_swarm(client, token=token, manager=manager, advertise_address=advertise_addr)
        print(f"This host joined the swarm as node {joined.node_id}.")
        _build_agent_image(client, _settings().wharf_run_image)


def _build_agent_image(client: docker.DockerClient, run_image: str) -> str | None:
    """No registry: the node agents' global service finds its image on each node, built there.
    The image's tag, or None, said, when this engine has neither that image nor the run image."""
    import docker as docker_sdk

    from wharf.platform.cluster.agent_image import ensure_agent_image

    try:
        tag = ensure_agent_image(client, run_image)
    except docker_sdk.errors.BuildError as error:
        print(f"Cannot build the node agent's image from {run_image} here ({error.msg}): run `wharfd stack")
        print("build`, then `wharfd cluster agents` on the manager, or no node agent starts on this node.")
        return None
    print(f"The node agent's image here: {tag}.")
    return tag
