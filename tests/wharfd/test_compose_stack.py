"""compose.yaml deploys Wharf's control plane as a Swarm stack: what an operator relies on before
`docker stack deploy -c compose.yaml wharf` (every image built from the stack, the control plane on the
manager, Redis and PostgreSQL on volumes, a node agent on every node)."""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Any

import pytest
import yaml

from tests.utils.network import REPO_ROOT
from wharf.platform.wharfd_cli.services import SERVICES

COMPOSE = REPO_ROOT / "compose.yaml"
CONTROL_PLANE = {"redis", "postgres", "api", "worker", "scheduler", "services", "router"}
DEPLOY_ENV = {"WHARF_REDIS_PASSWORD": "r", "WHARF_POSTGRES_PASSWORD": "p", "WHARF_SECRET_KEY": "k"}


@pytest.fixture(scope="module")
def stack() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def test_every_image_is_a_wharf_image_built_from_the_stack(stack: dict[str, Any]) -> None:
    images = {name: service["image"] for name, service in stack["services"].items()}

    assert set(images) == CONTROL_PLANE | {"node-agent"}
    assert set(images.values()) == {"wharf/platform:latest", "wharf/node-agent:latest"}, "no Docker Hub image"
    dockerfile = (REPO_ROOT / "deploy" / "Dockerfile").read_text()
    assert "FROM wharf/stack-build:trixie" in dockerfile
    assert "wharf/platform:latest" in (REPO_ROOT / "scripts" / "build-platform-image.sh").read_text()


def test_the_control_plane_runs_on_a_manager_and_the_node_agent_on_every_node(stack: dict[str, Any]) -> None:
    services = stack["services"]
    for name in CONTROL_PLANE:
        constraints = services[name]["deploy"]["placement"]["constraints"]
        assert "node.role == manager" in constraints, name
        assert services[name]["deploy"].get("mode", "replicated") == "replicated", name
    agent = services["node-agent"]
    assert agent["deploy"]["mode"] == "global"
    assert "placement" not in agent["deploy"]
    (socket,) = agent["volumes"]
    assert (socket["target"], socket["read_only"]) == ("/var/run/docker.sock", True)
    assert agent["secrets"][0]["target"] == "wharf-node-agent-redis-url"


def test_redis_keeps_an_append_only_file_and_postgres_its_data_on_volumes(stack: dict[str, Any]) -> None:
    services = stack["services"]
    redis_command = " ".join(services["redis"]["command"])
    assert "--appendonly yes" in redis_command and "--dir /data" in redis_command
    assert "redis-data:/data" in services["redis"]["volumes"]
    assert "postgres-data:/var/lib/postgresql" in services["postgres"]["volumes"]
    assert set(stack["volumes"]) == {"redis-data", "postgres-data"}


def test_the_router_serves_80_and_443_on_the_managers_own_network(stack: dict[str, Any]) -> None:
    router = stack["services"]["router"]
    assert router["networks"] == ["host"]
    assert stack["networks"]["host"] == {"external": True, "name": "host"}
    ports = router["environment"]["WHARF_HTTP_PORT"], router["environment"]["WHARF_HTTPS_PORT"]
    assert ports == ("80", "443")


def test_the_stack_runs_every_component_of_wharfd_up_but_the_engine_keeper(stack: dict[str, Any]) -> None:
    services = stack["services"]
    only = services["services"]["command"][services["services"]["command"].index("--only") + 1].split(",")
    assert services["worker"]["command"][-1] == "builds"
    assert services["scheduler"]["command"] == ["wharfd", "scheduler"]
    assert services["router"]["command"] == ["wharfd", "router"]
    assert sorted([*only, "builds", "scheduler", "router"]) == sorted(set(SERVICES) - {"docker"})
    for name in ("api", "worker", "scheduler", "services", "router"):
        assert services[name]["environment"]["WHARF_RUNTIME"] == "swarm", name


def test_docker_stack_config_accepts_the_file() -> None:
    docker = shutil.which("docker")
    has_config = docker and subprocess.run([docker, "stack", "config", "--help"], capture_output=True)
    if docker is None or not has_config or has_config.returncode:
        pytest.skip("this Docker CLI has no `docker stack config` (Docker 25 and later)")
    done = subprocess.run(
        [docker, "stack", "config", "-c", str(COMPOSE)],
        env={**os.environ, **DEPLOY_ENV},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    rendered = yaml.safe_load(done.stdout)
    assert set(rendered["services"]) == CONTROL_PLANE | {"node-agent"}
    assert rendered["services"]["api"]["environment"]["REDIS_URL"] == "redis://:r@127.0.0.1:6379/0"
