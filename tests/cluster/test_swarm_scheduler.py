"""Wharf's scheduler on the Swarm runtime keeps its semantics: the same scheduler tests as on one host
(a release answers and scales, a rolling deploy under load fails no request), run on the test Swarm."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
import redis

from tests.scheduler import test_scheduler_docker as on_one_host
from tests.utils.scheduler_world import World, world_on
from tests.utils.test_host import DockerTestHost
from wharf.platform.runtime.swarm_runtime import SwarmRuntime

pytestmark = [pytest.mark.e2e, pytest.mark.cluster]


@pytest.fixture
def swarm_world(
    redis_client: redis.Redis[bytes], tmp_path_factory: pytest.TempPathFactory, swarm_host: DockerTestHost
) -> Iterator[World]:
    from wharf.platform.migrate import upgrade_database

    url = f"sqlite:///{tmp_path_factory.mktemp('swarm-sched-db') / 'wharf.db'}"
    upgrade_database(url)
    client = swarm_host.client()
    runtime = SwarmRuntime(client, installation=f"sched-{secrets.token_hex(4)}")
    try:
        with world_on(runtime, redis_client, url, on_one_host.OPTIONS) as world:
            yield world
    finally:
        client.close()


def test_a_pushed_release_answers_at_its_dyno_and_scales(swarm_world: World) -> None:
    on_one_host.test_a_pushed_release_answers_at_its_dyno_and_scales(swarm_world)


def test_rolling_deploy_under_load_fails_no_request(swarm_world: World) -> None:
    on_one_host.test_rolling_deploy_under_load_fails_no_request(swarm_world)
