"""A compile relayed to a builder node's agent, with the agent (cluster/build_host.py) running here
against this machine's engine and Redis: the same fixture apps as the buildpack harness build there,
keep their cache in the node's volume, fail, time out and fall back to this host as a user expects."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors
import httpx
import pytest
import redis

from tests.utils.build_hosts import serving_build_host
from tests.utils.buildpack_builds import BUILDPACKS_DIR, FIXTURES, require_stack_images, running_slug
from wharf.platform.builds import relay_wire as wire
from wharf.platform.builds.build_caches import forget_build_caches
from wharf.platform.builds.builder_nodes import BuilderNode
from wharf.platform.builds.compile import (
    BuildFailed,
    BuildLimits,
    BuildTimedOut,
    CompileRequest,
    CompileResult,
)
from wharf.platform.builds.relayed_compile import RelayedCompiler
from wharf.platform.languages.prepare import LanguageSettings
from wharf.platform.stack import DEFAULT_BUILD_IMAGE

pytestmark = [pytest.mark.e2e, pytest.mark.cluster]

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
CACHE_KEY = secrets.token_hex(8)
INSTALLATION = secrets.token_hex(8)


@dataclass
class Relayed:
    result: CompileResult | None
    output: str
    error: Exception | None


@dataclass
class BuilderAgent:
    node: BuilderNode
    root: Path
    app: str

    def compile(
        self,
        fixture: str,
        *,
        node: BuilderNode | None = None,
        env: dict[str, str] | None = None,
        limits: BuildLimits | None = None,
        buildpacks: tuple[str, ...] = (),
        languages: LanguageSettings | None = None,
    ) -> Relayed:
        lines: list[str] = []
        compiler = RelayedCompiler(
            installation=INSTALLATION,
            app=self.app,
            cache_key=CACHE_KEY,
            node=node or self.node,
            redis_url=REDIS_URL,
            image=DEFAULT_BUILD_IMAGE,
        )
        request = CompileRequest(
            source_dir=FIXTURES / fixture,
            cache_dir=self.root / "manager-cache" / fixture,
            work_dir=self.root / f"work-{fixture}-{secrets.token_hex(3)}",
            env=env or {},
            buildpacks=buildpacks,
            languages=languages,
            build_image=DEFAULT_BUILD_IMAGE,
            buildpacks_dir=BUILDPACKS_DIR,
            limits=limits or BuildLimits(timeout_seconds=300),
        )
        try:
            return Relayed(compiler(request, on_output=lines.append), "\n".join(lines), None)
        except Exception as error:  # the test asserts on the type and the output
            return Relayed(None, "\n".join(lines), error)


def _relayed_builders(client: docker.DockerClient) -> list[str]:
    """The builder containers the agent still has, once it has had 10 s to remove them."""
    deadline = time.monotonic() + 10
    while True:
        # The raw listing: the model's would inspect each container, and one removed meanwhile fails it.
        left = [
            entry["Id"]
            for entry in client.api.containers(all=True, filters={"label": f"{wire.LABEL_RELAYED}=1"})
        ]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.2)


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BuilderAgent]:
    require_stack_images()
    node_id = secrets.token_hex(12)
    app = f"relay{secrets.token_hex(3)}"
    try:
        with serving_build_host(REDIS_URL, node_id, installation=INSTALLATION):
            yield BuilderAgent(
                BuilderNode(id=node_id, name="builder-one", memory_free=0),
                tmp_path_factory.mktemp("relay"),
                app,
            )
    finally:
        client = docker.from_env()
        for volume in client.volumes.list(filters={"name": wire.cache_volume(app, CACHE_KEY)}):
            volume.remove(force=True)
        client.close()


def test_a_relayed_build_compiles_on_the_node_keeps_its_cache_there_and_its_slug_answers(
    agent: BuilderAgent, tmp_path: Path
) -> None:
    cold = agent.compile("python_requirements")
    assert cold.result is not None, f"{cold.error}\n{cold.output}"
    assert "-----> Building on node builder-one" in cold.output
    assert "Installed 9 packages" in cold.output
    assert cold.result.buildpacks == ["Python"]

    warm = agent.compile("python_requirements")
    assert warm.result is not None, f"{warm.error}\n{warm.output}"
    assert "Restoring the cached virtualenv" in warm.output
    assert "Installed" not in warm.output, warm.output

    client = docker.from_env()
    cache = client.volumes.get(wire.cache_volume(agent.app, CACHE_KEY))
    assert cache.attrs["Labels"] == {
        wire.LABEL_CACHE: "1",
        "wharf.installation": INSTALLATION,
        "wharf.app": agent.app,
    }
    assert not list((agent.root / "manager-cache").glob("python_requirements/*")), "the cache came back here"
    assert _relayed_builders(client) == [], "a builder container outlived its build"
    with running_slug(warm.result.slug_path, warm.result.process_types["web"], tmp_path) as url:
        answer = httpx.get(url + "/", timeout=10)
    assert answer.status_code == 200
    assert "Hello from a Flask app built by Wharf" in answer.text


def test_a_failing_relayed_build_says_so_and_leaves_no_builder(agent: BuilderAgent) -> None:
    failed = agent.compile("python_failing_deps")
    assert isinstance(failed.error, BuildFailed), failed.output
    assert "exited with status" in str(failed.error)
    assert "-----> Building on node builder-one" in failed.output
    assert _relayed_builders(docker.from_env()) == []


def test_a_relayed_build_over_its_time_is_stopped_on_the_node(agent: BuilderAgent) -> None:
    hung = agent.compile(
        "procfile_only",
        buildpacks=(str(FIXTURES / "hung_buildpack"),),
        limits=BuildLimits(timeout_seconds=8),
    )
    assert isinstance(hung.error, BuildTimedOut), f"{hung.error}\n{hung.output}"
    assert "longer than 8 s" in str(hung.error)
    assert "Waiting forever" in hung.output
    assert _relayed_builders(docker.from_env()) == []


def test_a_build_whose_node_agent_does_not_answer_compiles_here(agent: BuilderAgent) -> None:
    away = BuilderNode(id=secrets.token_hex(12), name="builder-gone", memory_free=0)
    built = agent.compile("procfile_only", node=away)
    assert built.result is not None, f"{built.error}\n{built.output}"
    assert (
        "the agent of builder node builder-gone does not answer; building on this host instead"
        in built.output
    )
    assert built.result.process_types["web"]


def test_a_builder_node_that_runs_all_the_builds_it_may_leaves_the_next_one_to_this_host(
    agent: BuilderAgent,
) -> None:
    busy_id = secrets.token_hex(12)
    with serving_build_host(REDIS_URL, busy_id, max_builds=0):
        built = agent.compile(
            "procfile_only", node=BuilderNode(id=busy_id, name="builder-busy", memory_free=0)
        )
    assert built.result is not None, f"{built.error}\n{built.output}"
    assert "builder node builder-busy cannot take it: it already runs 0 builds" in built.output, built.output
    assert "building on this host instead" in built.output


def test_a_relayed_build_takes_the_language_runtime_the_app_asks_for_to_the_node(
    agent: BuilderAgent, tmp_path: Path
) -> None:
    """The runtime is installed on the manager, as for a build there, and goes to the node with the
    workspace: the slug runs the Node.js the app's engines field asks for."""
    built = agent.compile(
        "nodejs_version_report", languages=LanguageSettings(runtimes_dir=agent.root / "runtimes")
    )
    assert built.result is not None, f"{built.error}\n{built.output}"
    assert "-----> Building on node builder-one" in built.output
    with running_slug(built.result.slug_path, built.result.process_types["web"], tmp_path) as url:
        answer = httpx.get(url + "/", timeout=10)
    assert answer.status_code == 200
    assert answer.text.startswith("node v18."), answer.text


def test_a_destroyed_apps_cache_leaves_the_node_and_a_live_apps_stays(agent: BuilderAgent) -> None:
    """The API forgets a destroyed app's caches (actions/apps.forget_app_leftovers); the node's agent,
    told so, removes that app's volume, and neither a live app's nor another installation's."""
    gone = dataclasses.replace(agent, app=f"gone{secrets.token_hex(3)}")
    kept = dataclasses.replace(agent, app=f"kept{secrets.token_hex(3)}")
    client = docker.from_env()
    foreign = client.volumes.create(
        name=wire.cache_volume(gone.app, secrets.token_hex(8)),
        labels={wire.LABEL_CACHE: "1", "wharf.installation": secrets.token_hex(8), "wharf.app": gone.app},
    )
    names = {app.app: wire.cache_volume(app.app, CACHE_KEY) for app in (gone, kept)}
    try:
        for app in (gone, kept):
            built = app.compile("procfile_only")
            assert built.result is not None, f"{built.error}\n{built.output}"
        assert {
            v.name for v in client.volumes.list(filters={"label": f"wharf.installation={INSTALLATION}"})
        } >= set(names.values())

        forget_build_caches(redis.Redis.from_url(REDIS_URL), installation=INSTALLATION, app=gone.app)

        deadline = time.monotonic() + 15
        while _volume_names(client) & {names[gone.app]} and time.monotonic() < deadline:
            time.sleep(0.2)
        left = _volume_names(client)
        assert names[gone.app] not in left, "the destroyed app's cache stayed on the node"
        assert names[kept.app] in left, "a live app's cache went"
        assert foreign.name in left, "another installation's cache went"
    finally:
        for name in (*names.values(), foreign.name):
            with contextlib.suppress(docker.errors.NotFound):
                client.volumes.get(name).remove(force=True)
        client.close()


def _volume_names(client: docker.DockerClient) -> set[str]:
    return {volume.name for volume in client.volumes.list(filters={"label": f"{wire.LABEL_CACHE}=1"})}
