"""A detached one-off (`wharf run --detach`) that ended stays in `wharf ps` a while, its exit shown, then
the scheduler removes it, as Heroku's do; one still running, an attached one and the formation stay."""

from __future__ import annotations

import dataclasses

from tests.scheduler.test_reconciler import deployed_app
from tests.utils.busybox_dynos import TRAPS_TERM, make_spec
from tests.utils.scheduler_world import World
from wharf.platform.actions.dynos import list_dyno_statuses
from wharf.platform.runtime.base import LABEL_ATTACHED
from wharf.platform.runtime.fake import FakeRuntime
from wharf.platform.scheduler.dynos import LABEL_ONEOFF


def test_a_finished_detached_one_off_is_listed_a_while_then_removed(world: World) -> None:
    app = deployed_app(world)
    runtime = world.runtime
    assert isinstance(runtime, FakeRuntime)
    oneoff = {LABEL_ONEOFF: "1"}
    done = runtime.start_dyno(make_spec(app, TRAPS_TERM, "run", 4821, release=2, labels=oneoff))
    busy = runtime.start_dyno(make_spec(app, TRAPS_TERM, "run", 4822, release=2, labels=oneoff))
    attached = {**oneoff, LABEL_ATTACHED: "1"}
    session = runtime.start_dyno(make_spec(app, TRAPS_TERM, "run", 4823, release=2, labels=attached))
    runtime.crash(done.id, exit_code=0)
    runtime.crash(session.id, exit_code=0)

    world.scheduler.reconcile_once()
    listed = {status.name: status.state for status in list_dyno_statuses(runtime, app)}
    assert listed["run.4821"] != "up", "its exit is shown while it is kept"
    assert {"run.4821", "run.4822", "run.4823", "web.1"} <= set(listed)

    fleet = world.scheduler.fleet
    fleet.options = dataclasses.replace(fleet.options, finished_oneoff_seconds=0.0)
    world.scheduler.reconcile_once()
    names = sorted(status.name for status in list_dyno_statuses(runtime, app))
    assert names == ["run.4822", "run.4823", "web.1"]
    runtime.remove_dyno(busy.id)
    runtime.remove_dyno(session.id)
