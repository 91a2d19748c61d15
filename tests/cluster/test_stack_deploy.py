"""`docker stack deploy -c compose.yaml wharf`, as docs/cluster.md ("Wharf as a stack") tells an operator:
on a Swarm manager of its own (a private test host), the control plane comes up from images built from
the stack, the API answers through the router on the manager's port 80 with its database migrated, the
components reach the swarm, and a node agent runs on the node."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import httpx
import pytest

from tests.utils.network import REPO_ROOT
from tests.utils.swarm_host import swarm_test_host
from tests.utils.test_host import DockerTestHost
from wharf.platform.cluster.agent_image import AGENT_REPOSITORY, LATEST, ensure_agent_image
from wharf.platform.stack import ensure_stack_images

pytestmark = [pytest.mark.e2e, pytest.mark.cluster]

PLATFORM_IMAGE = "wharf/platform:latest"
STACK = "wharf"
API_HOST = "wharf.localhost"
CONTROL_PLANE = ("api", "worker", "scheduler", "services", "router", "redis", "postgres")


def _until(check: object, what: str, timeout: float, host: DockerTestHost) -> None:
    deadline = time.monotonic() + timeout
    while not (callable(check) and check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not so after {timeout:.0f} s\n{_stack_state(host)}")
        time.sleep(1)


def _stack_state(host: DockerTestHost) -> str:
    done = subprocess.run(
        [
            "docker",
            "-H",
            host.docker_host,
            "stack",
            "ps",
            STACK,
            "--no-trunc",
            "--format",
            "{{.Name}} {{.CurrentState}} {{.Error}}",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout + done.stderr


@pytest.fixture(scope="module")
def images() -> list[str]:
    """wharf/platform:latest from this tree (scripts/build-platform-image.sh, on the stack's build image)
    and the node agent's image (on its run image)."""
    ensure_stack_images(progress=lambda line: print(line, flush=True))
    built = subprocess.run(
        ["bash", str(REPO_ROOT / "scripts" / "build-platform-image.sh"), PLATFORM_IMAGE],
        capture_output=True,
        text=True,
        check=False,
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    host_engine = docker.from_env()
    try:
        ensure_agent_image(host_engine)
    finally:
        host_engine.close()
    return [PLATFORM_IMAGE, f"{AGENT_REPOSITORY}:{LATEST}"]


@pytest.fixture
def deployed(images: list[str], tmp_path: Path) -> Iterator[DockerTestHost]:
    with swarm_test_host() as host:
        host.load_images(images)
        client = host.client()
        try:
            redis_password = secrets.token_hex(16)
            node = client.nodes.list()[0]
            spec = node.attrs["Spec"]
            spec["Labels"] = {**spec.get("Labels", {}), "wharf.role": "control-plane"}
            node.update(spec)
            client.secrets.create(
                name="wharf-node-agent-redis-url",
                data=f"redis://:{redis_password}@{host.address}:6379/0".encode(),
            )
            data_dir = tmp_path / "data"
            data_dir.mkdir(mode=0o700)
            environment = {
                **os.environ,
                "WHARF_SECRET_KEY": secrets.token_hex(32),
                "WHARF_REDIS_PASSWORD": redis_password,
                "WHARF_POSTGRES_PASSWORD": secrets.token_hex(16),
                "WHARF_DATA_DIR": str(data_dir),
                "WHARF_DOCKER_SOCKET": str(host.socket),
            }
            done = subprocess.run(
                [
                    "docker",
                    "-H",
                    host.docker_host,
                    "stack",
                    "deploy",
                    "-c",
                    str(REPO_ROOT / "compose.yaml"),
                    STACK,
                ],
                env=environment,
                capture_output=True,
                text=True,
                check=False,
            )
            assert done.returncode == 0, done.stdout + done.stderr
            yield host
        finally:
            client.close()


def _api_health(host: DockerTestHost) -> bool:
    """The API's health through the router: HTTP redirects to HTTPS, served with the certificate the
    control plane's own authority issued (not checked here: its CA is inside the stack's data dir)."""
    try:
        plain = httpx.get(f"http://{host.address}/api/health", headers={"Host": API_HOST}, timeout=5)
        with httpx.Client(verify=False, timeout=5) as tls:  # noqa: S501
            secure = tls.request(
                "GET",
                f"https://{host.address}/api/health",
                headers={"Host": API_HOST},
                extensions={"sni_hostname": API_HOST},
            )
    except httpx.HTTPError:
        return False
    redirected = plain.status_code == 301 and plain.headers.get("location", "").startswith(
        f"https://{API_HOST}/"
    )
    return redirected and secure.status_code == 200 and secure.json() == {"status": "ok"}


def _running_services(host: DockerTestHost) -> set[str]:
    client = host.client()
    try:
        running = set()
        for service in client.services.list(filters={"label": f"com.docker.stack.namespace={STACK}"}):
            if any(
                t["Status"]["State"] == "running" for t in service.tasks(filters={"desired-state": "running"})
            ):
                running.add(service.name.removeprefix(f"{STACK}_"))
        return running
    finally:
        client.close()


def test_the_stack_deploys_and_its_api_answers_through_its_router(deployed: DockerTestHost) -> None:
    host = deployed
    _until(lambda: _api_health(host), "the API answers through the router on port 80", 300, host)
    _until(
        lambda: set(CONTROL_PLANE) | {"node-agent"} <= _running_services(host),
        "every service of the stack runs",
        120,
        host,
    )
    client = host.client()
    try:
        (api,) = client.containers.list(
            ignore_removed=True, filters={"label": f"com.docker.swarm.service.name={STACK}_api"}
        )
        nodes = api.exec_run(["wharfd", "nodes", "--json"])
    finally:
        client.close()
    assert nodes.exit_code == 0, nodes.output.decode(errors="replace")
    listed = json.loads(nodes.output)
    assert [n["role"] for n in listed] == ["manager"], listed
