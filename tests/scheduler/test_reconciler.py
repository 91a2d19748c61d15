"""The reconciler and deploys on the in-memory runtime: formation, routing, crashes, restarts."""

from __future__ import annotations

import time

from sqlalchemy import select, update

from tests.utils.busybox_dynos import CRASHES, TEST_IMAGE, TRAPS_TERM, WEB, http_get
from tests.utils.scheduler_world import World
from wharf.platform.db import session_scope
from wharf.platform.models import App, Release
from wharf.platform.runtime.base import DynoState
from wharf.platform.runtime.fake import FakeRuntime
from wharf.platform.scheduler.desired import load_target
from wharf.platform.scheduler.dynos import formation_spec, restarts_of
from wharf.platform.scheduler.loop import Scheduler
from wharf.platform.scheduler.notify import request_restart
from wharf.platform.security.crypto import ConfigCipher


def deployed_app(world: World, processes: dict[str, str] | None = None) -> str:
    app = world.new_app()
    world.release(app, processes or {"web": WEB}, image=TEST_IMAGE)
    status, lines = world.deploy(app)
    assert status == "succeeded", lines
    return app


def test_first_deploy_scales_web_to_one_and_routes_it_once_healthy(world: World) -> None:
    app = world.new_app()
    version = world.release(
        app, {"web": WEB, "worker": TRAPS_TERM}, image=TEST_IMAGE, config={"GREETING": "hi"}
    )
    status, lines = world.deploy(app)
    assert status == "succeeded"
    assert "-----> Launching..." in lines and lines[-1] == f"Deployed v{version}"
    assert world.running(app) == [f"web.1@v{version}"]
    assert world.backends(app) == ["web.1"]
    assert http_get(world.backend_addresses(app)[0])[0] == 200
    current, statuses = world.app_row(app)
    assert current == version and statuses[version] == "succeeded"
    spec_env = world.dynos(app)[0]
    assert spec_env.labels["wharf.release"] == str(version)


def test_scale_up_and_down_routes_exactly_the_healthy_web_dynos(world: World) -> None:
    app = deployed_app(world, {"web": WEB, "worker": TRAPS_TERM})
    world.scale(app, web=3, worker=2)
    world.converge(lambda: world.backends(app) == ["web.1", "web.2", "web.3"])
    assert world.running(app) == ["web.1@v2", "web.2@v2", "web.3@v2", "worker.1@v2", "worker.2@v2"]
    world.scale(app, web=1, worker=0)
    world.converge(lambda: world.running(app) == ["web.1@v2"])
    assert world.backends(app) == ["web.1"]
    world.scale(app, web=0)
    world.converge(lambda: world.running(app) == [])
    assert world.backends(app) == []


def test_a_crashed_dyno_comes_back_with_a_growing_backoff(world: World) -> None:
    app = deployed_app(world)
    runtime = world.runtime
    assert isinstance(runtime, FakeRuntime)
    first = world.dynos(app)[0]
    runtime.crash(first.id, exit_code=1)
    world.converge(lambda: world.running(app) == ["web.1@v2"])
    second = next(d for d in world.dynos(app) if d.running)
    assert second.id != first.id and restarts_of(second) == 1
    runtime.crash(second.id, exit_code=1)
    world.scheduler.reconcile_once()
    crashed = world.dynos(app)
    assert [d.state for d in crashed] == [DynoState.CRASHED], "the second restart waits for its backoff"
    assert restarts_of(crashed[0]) == 1
    world.converge(lambda: world.running(app) == ["web.1@v2"], timeout=5)
    assert restarts_of(world.dynos(app)[0]) == 2


def test_a_restarted_scheduler_converges_without_duplicates(world: World) -> None:
    app = deployed_app(world)
    world.scale(app, web=2)
    world.converge(lambda: world.backends(app) == ["web.1", "web.2"])
    fresh = Scheduler(
        runtime=world.runtime,
        client=world.redis,
        database_url=world.database_url,
        cipher=world.scheduler.cipher,
        options=world.scheduler.fleet.options,
    )
    before = sorted(d.id for d in world.dynos(app))
    fresh.reconcile_once()
    fresh.reconcile_once()
    assert sorted(d.id for d in world.dynos(app)) == before
    assert world.backends(app) == ["web.1", "web.2"]
    # A duplicate left behind (say, by a crash between start and bookkeeping) is removed.
    extra = world.dynos(app)[0]
    target = load_target(world.database_url, fresh.cipher, app)
    assert target is not None and target.current is not None
    world.runtime.start_dyno(formation_spec(app, target.current, "web", extra.number, "basic", launcher=()))
    world.scheduler = fresh
    world.converge(lambda: len(world.dynos(app)) == 2)
    assert world.running(app) == ["web.1@v2", "web.2@v2"]
    assert extra.id in [d.id for d in world.dynos(app)], "the dyno that was serving is kept"


def test_a_failing_release_phase_keeps_the_old_release_serving(world: World) -> None:
    app = deployed_app(world)
    serving = [d.id for d in world.dynos(app)]
    version = world.release(app, {"web": WEB, "release": CRASHES}, image=TEST_IMAGE)
    status, lines = world.deploy(app)
    assert status == "failed"
    assert "-----> Running release command..." in lines
    assert "exit code 2" in lines[-1] and "v2 keeps serving" in lines[-1]
    current, statuses = world.app_row(app)
    assert current == 2 and statuses[version] == "failed"
    world.scheduler.reconcile_once()
    assert [d.id for d in world.dynos(app)] == serving
    assert world.backends(app) == ["web.1"]


def test_a_release_that_crashes_on_boot_fails_its_deploy(world: World) -> None:
    app = deployed_app(world)
    version = world.release(app, {"web": CRASHES}, image=TEST_IMAGE)
    status, lines = world.deploy(app)
    assert status == "failed" and "crashed while booting" in lines[-1]
    world.scheduler.fleet.wait_for_retirements()
    assert world.running(app) == ["web.1@v2"]
    assert world.app_row(app)[1][version] == "failed"


def test_a_config_release_replaces_every_dyno_and_routes_the_new_ones(world: World) -> None:
    app = deployed_app(world, {"web": WEB, "worker": TRAPS_TERM})
    world.scale(app, web=2, worker=1)
    world.converge(lambda: len(world.running(app)) == 3 and len(world.backends(app)) == 2)
    old_addresses = set(world.backend_addresses(app))
    version = world.release(app, {"web": WEB, "worker": TRAPS_TERM}, image=TEST_IMAGE, config={"A": "1"})
    status, _ = world.deploy(app)
    assert status == "succeeded"
    world.scheduler.fleet.wait_for_retirements()
    assert world.running(app) == [f"web.1@v{version}", f"web.2@v{version}", f"worker.1@v{version}"]
    assert not set(world.backend_addresses(app)) & old_addresses
    assert world.app_row(app)[0] == version


def test_restart_starts_the_successor_before_retiring_the_dyno(world: World) -> None:
    app = deployed_app(world)
    old = world.dynos(app)[0]
    time.sleep(0.01)
    request_restart(world.redis, app, "web")
    world.scheduler.reconcile_once()
    both = [d.id for d in world.dynos(app) if d.running]
    assert old.id in both and len(both) == 2, "the old dyno serves until its successor is ready"
    world.converge(lambda: old.id not in [d.id for d in world.dynos(app)])
    assert world.running(app) == ["web.1@v2"] and world.backends(app) == ["web.1"]


def test_size_change_replaces_dynos(world: World) -> None:
    app = deployed_app(world)
    world.scale(app, web="1:standard")
    world.converge(lambda: [d.size for d in world.dynos(app)] == ["standard"])


def test_dynos_of_a_deleted_app_are_removed(world: World) -> None:
    app = deployed_app(world)
    with session_scope(world.database_url) as session:
        session.delete(session.query(App).filter_by(name=app).one())
    world.converge(lambda: world.dynos(app) == [])
    assert world.backends(app) == []


def test_an_app_that_cannot_be_read_neither_stops_the_others_nor_loses_its_dynos(world: World) -> None:
    stuck = deployed_app(world)
    before = world.running(stuck)
    # Its releases were stored under another key (say, a restored backup): it cannot be decrypted.
    other_key = ConfigCipher("another-installation-key-of-at-least-32-chars")
    with session_scope(world.database_url) as session:
        app_id = session.scalars(select(App.id).where(App.name == stuck)).one()
        session.execute(
            update(Release).where(Release.app_id == app_id).values(config_ciphertext=other_key.encrypt({}))
        )
    healthy = deployed_app(world)
    world.scheduler.reconcile_once()
    assert world.running(healthy) and world.backends(healthy) == ["web.1"]
    assert world.running(stuck) == before
