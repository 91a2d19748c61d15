"""app.json in deploys, on the in-memory runtime: first formation, postdeploy once, healthcheck attempts."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
import redis

from tests.scheduler.conftest import FAST
from tests.utils.busybox_dynos import ONEOFF_EXIT_3, TEST_IMAGE, TRAPS_TERM, WEB, fake_program_for
from tests.utils.scheduler_world import CIPHER, World
from wharf.platform.app_manifest import EMPTY, AppManifest, HealthCheck, ProcessFormation
from wharf.platform.runtime.fake import FakeRuntime
from wharf.platform.scheduler.loop import Scheduler
from wharf.platform.settings import Quotas

WORKER_ONLY = "wharf/worker-only:v1"
WITH_POSTDEPLOY = "wharf/postdeploy:v1"
FAILING_CHECK = "wharf/failing-check:v1"
TOO_MANY = "wharf/too-many:v1"
MANIFESTS = {
    TOO_MANY: AppManifest(formation={"worker": ProcessFormation(50, None)}),
    WORKER_ONLY: AppManifest(
        formation={"worker": ProcessFormation(2, "standard"), "clock": ProcessFormation(1, None)}
    ),
    WITH_POSTDEPLOY: AppManifest(postdeploy=ONEOFF_EXIT_3),
    FAILING_CHECK: AppManifest(
        web_checks=(HealthCheck(path="/health", content="never there", attempts=2, timeout=1, wait=0),)
    ),
}


@pytest.fixture
def world(database_url: str, redis_client: redis.Redis[bytes]) -> Iterator[World]:
    runtime = FakeRuntime(fake_program_for)
    options = dataclasses.replace(FAST, manifest_for=lambda image: MANIFESTS.get(image, EMPTY))
    scheduler = Scheduler(
        runtime=runtime, client=redis_client, database_url=database_url, cipher=CIPHER, options=options
    )
    world = World(database_url=database_url, redis=redis_client, runtime=runtime, scheduler=scheduler)
    yield world
    world.close()
    for dyno in runtime.list_dynos():
        runtime.remove_dyno(dyno.id)


def test_a_worker_only_app_gets_its_app_json_formation_and_no_web_dyno(world: World) -> None:
    app = world.new_app()
    world.release(app, {"worker": TRAPS_TERM}, image=WORKER_ONLY)

    status, lines = world.deploy(app)

    assert status == "succeeded", lines
    assert world.running(app) == ["worker.1@v2", "worker.2@v2"]
    assert {d.size for d in world.dynos(app)} == {"standard"}
    assert world.backends(app) == []
    assert any("formation names clock, which the Procfile does not declare" in line for line in lines)


def test_an_app_json_formation_over_the_dyno_quota_fails_the_deploy_with_the_setting_named(
    world: World,
) -> None:
    world.scheduler.fleet.options = dataclasses.replace(
        world.scheduler.fleet.options, quotas=Quotas(dynos_per_type=10)
    )
    app = world.new_app()
    world.release(app, {"worker": TRAPS_TERM}, image=TOO_MANY)

    status, lines = world.deploy(app)

    assert status == "failed", lines
    assert any(
        "50 worker dynos is over the limit of 10" in line and "WHARF_MAX_DYNOS_PER_TYPE" in line
        for line in lines
    )
    assert world.running(app) == []


def test_postdeploy_runs_after_the_first_release_only(world: World) -> None:
    app = world.new_app()
    world.release(app, {"web": WEB}, image=WITH_POSTDEPLOY)
    first_status, first = world.deploy(app)
    world.release(app, {"web": WEB}, image=WITH_POSTDEPLOY, config={"AGAIN": "1"})
    second_status, second = world.deploy(app)

    assert (first_status, second_status) == ("succeeded", "succeeded")
    assert "       hello from a one-off" in first
    assert " !     The postdeploy script failed with exit code 3; v2 is live." in first
    assert not any("postdeploy" in line or "one-off" in line for line in second)


def test_a_health_check_that_cannot_pass_fails_the_deploy_after_its_attempts(world: World) -> None:
    app = world.new_app()
    world.release(app, {"web": WEB}, image=TEST_IMAGE)
    assert world.deploy(app)[0] == "succeeded"
    world.release(app, {"web": WEB}, image=FAILING_CHECK)

    status, lines = world.deploy(app)

    assert status == "failed"
    attempts = [line for line in lines if "/health: attempt" in line]
    assert len(attempts) == 2 and "does not contain 'never there'" in attempts[-1]
    assert "web.1 failed its health check /health after 2 attempts" in lines[-1]
    assert world.running(app) == ["web.1@v2"] and world.backends(app) == ["web.1"]
