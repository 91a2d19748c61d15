"""Fixtures for the runtime contract: every test runs on the fake, on real Docker (marked e2e) and on a
Swarm of one private test host (marked cluster and e2e)."""

from __future__ import annotations

from collections.abc import Iterator

import docker
import pytest

from tests.utils.busybox_dynos import Apps, apps_for, build_test_image, fake_program_for
from wharf.platform.runtime import Runtime
from wharf.platform.runtime.docker_runtime import DockerRuntime
from wharf.platform.runtime.fake import FakeRuntime


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    client = docker.from_env()
    yield client
    client.close()


@pytest.fixture(scope="session")
def test_image(docker_client: docker.DockerClient) -> str:
    """The busybox image, imported once per session from the host's busybox-static."""
    return build_test_image(docker_client)


@pytest.fixture(
    params=[
        "fake",
        pytest.param("docker", marks=pytest.mark.e2e),
        pytest.param("swarm", marks=[pytest.mark.e2e, pytest.mark.cluster]),
    ]
)
def runtime(request: pytest.FixtureRequest) -> Runtime:
    if request.param == "fake":
        return FakeRuntime(fake_program_for)
    if request.param == "swarm":
        swarm: Runtime = request.getfixturevalue("swarm_runtime")
        return swarm
    request.getfixturevalue("test_image")
    return DockerRuntime(request.getfixturevalue("docker_client"))


@pytest.fixture
def apps(runtime: Runtime) -> Iterator[Apps]:
    yield from apps_for(runtime)


@pytest.fixture
def docker_runtime(docker_client: docker.DockerClient, test_image: str) -> DockerRuntime:
    return DockerRuntime(docker_client)


@pytest.fixture
def docker_apps(docker_runtime: DockerRuntime) -> Iterator[Apps]:
    yield from apps_for(docker_runtime)
