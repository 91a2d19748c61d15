"""Wharf's global service on a swarm: one node agent task on every node (wharf.platform.cluster.node_agent).

The service runs the agent's image (wharf.platform.cluster.agent_image, built on every node) in the
node's network namespace, so it reaches the control plane's Redis at the address the node does, with
the node's Docker socket mounted read-only and the Redis URL (its password with it) as a Swarm
secret, never in the service's environment. Deploying again updates the service in place; a new
Redis URL makes a new secret, since Swarm secrets cannot change.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from wharf.platform.cluster.node_agent import REDIS_URL_SECRET, AgentTuning
from wharf.platform.cluster.registry_trust import (
    CA_CONFIG_FILE,
    CA_FILE_ENV,
    MOUNTED_DOCKER_CONFIG,
    NODE_DOCKER_CONFIG,
    REGISTRY_ENV,
    RegistryTrust,
)
from wharf.platform.runtime.base import LABEL_INSTALLATION

if TYPE_CHECKING:
    import docker

AGENT_SERVICE = "wharf-node-agent"
AGENT_LABEL = "wharf.node-agent"
ENGINE_SOCKET = "/var/run/docker.sock"
AGENT_MEMORY_BYTES = 256 * 1024 * 1024
REGISTRY_CA_CONFIG = "wharf-registry-ca"


@dataclass(frozen=True)
class AgentDeployment:
    """What the agents need: their image, the control plane's Redis as the nodes reach it, and more."""

    image: str
    redis_url: str
    installation: str
    # The engine socket's path on each node; Swarm expands templates such as {{.Node.ID}} in it.
    engine_socket: str = ENGINE_SOCKET
    tuning: AgentTuning = field(default_factory=AgentTuning)
    # The swarm's registry and its CA, which every agent keeps in its node's certs.d; None: no registry.
    registry_trust: RegistryTrust | None = None


def _stored_id(
    listed: Callable[..., list[dict[str, Any]]],
    create: Callable[..., dict[str, Any]],
    prefix: str,
    data: bytes,
) -> tuple[str, str]:
    """The Swarm secret or config holding `data` (created if missing, named after its digest, since
    neither can change): its id and name."""
    name = f"{prefix}-{hashlib.sha256(data).hexdigest()[:12]}"
    for stored in listed(filters={"name": name}):
        if stored["Spec"]["Name"] == name:
            return str(stored["ID"]), name
    created = create(name, data, labels={AGENT_LABEL: "1"})
    return str(created["ID"]), name


def _registry_trust_parts(
    client: docker.DockerClient, trust: RegistryTrust | None
) -> tuple[dict[str, str], list[Any], list[Any]]:
    """The environment, mount and config that let each agent write the registry's CA on its node."""
    from docker import types

    if trust is None:
        return {}, [], []
    config_id, config_name = _stored_id(
        client.api.configs, client.api.create_config, REGISTRY_CA_CONFIG, trust.ca_pem
    )
    return (
        {REGISTRY_ENV: trust.registry, CA_FILE_ENV: CA_CONFIG_FILE},
        [types.Mount(MOUNTED_DOCKER_CONFIG, NODE_DOCKER_CONFIG, type="bind")],
        [types.ConfigReference(config_id, config_name, filename=CA_CONFIG_FILE, mode=0o444)],
    )


def _task_template(client: docker.DockerClient, deployment: AgentDeployment) -> Any:
    from docker import types

    secret_id, secret_name = _stored_id(
        client.api.secrets, client.api.create_secret, REDIS_URL_SECRET, deployment.redis_url.encode()
    )
    trust_env, trust_mounts, trust_configs = _registry_trust_parts(client, deployment.registry_trust)
    container = types.ContainerSpec(
        deployment.image,
        env={
            "WHARF_NODE_ID": "{{.Node.ID}}",
            "WHARF_INSTALLATION_ID": deployment.installation,
            **deployment.tuning.to_environment(),
            "DOCKER_HOST": f"unix://{ENGINE_SOCKET}",
            **trust_env,
        },
        mounts=[
            types.Mount(ENGINE_SOCKET, deployment.engine_socket, type="bind", read_only=True),
            *trust_mounts,
        ],
        secrets=[types.SecretReference(secret_id, secret_name, filename=REDIS_URL_SECRET, mode=0o400)],
        configs=trust_configs,
        labels={AGENT_LABEL: "1"},
    )
    return types.TaskTemplate(
        container,
        resources=types.Resources(mem_limit=AGENT_MEMORY_BYTES),
        restart_policy=types.RestartPolicy(condition="any", delay=5_000_000_000),
        log_driver=types.DriverConfig("json-file", {"max-size": "10m", "max-file": "3"}),
        networks=[types.NetworkAttachmentConfig("host")],
    )


def deploy_node_agents(client: docker.DockerClient, deployment: AgentDeployment) -> str:
    """Create the global service, or update it to this deployment; its id. Run on a manager."""
    from docker import types

    template = _task_template(client, deployment)
    labels = {AGENT_LABEL: "1", LABEL_INSTALLATION: deployment.installation}
    existing = client.api.services(filters={"name": AGENT_SERVICE})
    for service in existing:
        if service["Spec"]["Name"] == AGENT_SERVICE:
            client.api.update_service(
                service["ID"],
                service["Version"]["Index"],
                task_template=template,
                name=AGENT_SERVICE,
                labels=labels,
                mode=types.ServiceMode("global"),
            )
            return str(service["ID"])
    created = client.api.create_service(
        template, name=AGENT_SERVICE, labels=labels, mode=types.ServiceMode("global")
    )
    return str(created["ID"])


def remove_node_agents(client: docker.DockerClient) -> None:
    """Remove the global service, its secrets and configs (the data they shipped stays in Redis)."""
    import docker as docker_sdk

    for service in client.api.services(filters={"name": AGENT_SERVICE}):
        if service["Spec"]["Name"] == AGENT_SERVICE:
            client.api.remove_service(service["ID"])
    for secret in client.api.secrets(filters={"label": f"{AGENT_LABEL}=1"}):
        # A secret is refused removal while a task still holds it: a later removal takes it.
        with contextlib.suppress(docker_sdk.errors.APIError):
            client.api.remove_secret(secret["ID"])
    for config in client.api.configs(filters={"label": f"{AGENT_LABEL}=1"}):
        with contextlib.suppress(docker_sdk.errors.APIError):
            client.api.remove_config(config["ID"])
