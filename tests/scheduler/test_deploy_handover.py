"""A scheduler that starts while a release is pending (the one before died mid-deploy) deploys it at
its first pass, before it ever probed the live release's dynos. The router has been sending requests
to those: each old web dyno still gets the drain before it is stopped, so no request in flight to it
fails; a dyno of another type does not."""

from __future__ import annotations

import dataclasses
import time

from tests.scheduler.conftest import FAST
from tests.utils.busybox_dynos import TEST_IMAGE, TRAPS_TERM, WEB
from tests.utils.scheduler_world import CIPHER, World
from wharf.platform.scheduler.loop import Scheduler

DRAIN_SECONDS = 2.0


def test_a_successors_deploy_drains_the_old_web_dynos_it_never_probed(world: World) -> None:
    app = world.new_app()
    world.release(app, {"web": WEB, "worker": TRAPS_TERM}, image=TEST_IMAGE)
    status, lines = world.deploy(app)
    assert status == "succeeded", lines
    world.scale(app, worker=1)
    world.converge(lambda: len(world.running(app)) == 2)
    old = {d.dyno: d.id for d in world.dynos(app)}
    assert sorted(old) == ["web.1", "worker.1"]

    world.scheduler.fleet.close()
    world.scheduler = Scheduler(
        runtime=world.runtime,
        client=world.redis,
        database_url=world.database_url,
        cipher=CIPHER,
        options=dataclasses.replace(FAST, drain_seconds=DRAIN_SECONDS),
    )
    version = world.release(app, {"web": WEB, "worker": TRAPS_TERM}, image=TEST_IMAGE, config={"V": "2"})
    status, lines = world.deploy(app)
    assert status == "succeeded", lines
    assert world.backends(app) == ["web.1"]
    switched = time.monotonic()

    time.sleep(DRAIN_SECONDS / 2)
    live = {d.id: d for d in world.dynos(app)}
    assert old["web.1"] in live and live[old["web.1"]].running, "the old web dyno is still draining"
    assert old["worker.1"] not in live or not live[old["worker.1"]].running, "a worker has no drain"

    world.scheduler.fleet.wait_for_retirements()
    assert time.monotonic() - switched >= DRAIN_SECONDS * 0.9
    assert world.running(app) == [f"web.1@v{version}", f"worker.1@v{version}"]
