"""The scheduler reads every app's desired state in the same few queries, however many apps there are."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from tests.utils.busybox_dynos import WEB
from tests.utils.scheduler_world import CIPHER, World
from wharf.platform.db import get_engine
from wharf.platform.scheduler.desired import ProcessTarget, load_targets, set_first_formation


class CountedQueries:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, *_args: Any) -> None:
        self.count += 1


@pytest.fixture
def counted(database_url: str) -> Iterator[CountedQueries]:
    engine = get_engine(database_url)
    counter = CountedQueries()
    event.listen(engine, "before_cursor_execute", counter)
    yield counter
    event.remove(engine, "before_cursor_execute", counter)


def queries_to_load(database_url: str, counted: CountedQueries) -> int:
    before = counted.count
    load_targets(database_url, CIPHER)
    return counted.count - before


def test_reading_the_fleet_costs_no_query_per_app(world: World, counted: CountedQueries) -> None:
    deployed = world.new_app()
    world.release(deployed, {"web": WEB}, image="wharf/test:v1", config={"COLOR": "blue"})
    assert world.deploy(deployed)[0] == "succeeded"
    world.scale(deployed, web="2:standard")
    few = queries_to_load(world.database_url, counted)

    waiting = []
    for _ in range(12):
        app = world.new_app()
        world.release(app, {"web": WEB}, image="wharf/test:v2")
        waiting.append(app)

    assert queries_to_load(world.database_url, counted) == few
    targets = {target.name: target for target in load_targets(world.database_url, CIPHER)}
    serving = targets[deployed]
    assert serving.current is not None and serving.current.config == {"COLOR": "blue"}
    assert serving.pending is None or serving.pending.version <= serving.current.version
    assert serving.formation["web"] == ProcessTarget(quantity=2, size="standard")
    for app in waiting:
        assert targets[app].current is None
        pending = targets[app].pending
        assert pending is not None and pending.image == "wharf/test:v2"
        assert targets[app].first_deploy


class CountedRoundTrips:
    """Counts the commands and pipelines a Redis client sends."""

    def __init__(self, client: Any) -> None:
        self.count = 0
        self._execute, self._pipeline = client.execute_command, client.pipeline
        client.execute_command, client.pipeline = self.execute, self.pipeline

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        self.count += 1
        return self._execute(*args, **kwargs)

    def pipeline(self, *args: Any, **kwargs: Any) -> Any:
        self.count += 1
        return self._pipeline(*args, **kwargs)


def steady_apps(world: World, count: int) -> None:
    for _ in range(count):
        app = world.new_app()
        world.release(app, {"web": WEB}, image="wharf/test:v1")
        assert world.deploy(app)[0] == "succeeded"


def round_trips_of_a_pass(world: World, counter: CountedRoundTrips) -> int:
    world.scheduler.reconcile_once()  # settles what the last deploy left to do
    before = counter.count
    world.scheduler.reconcile_once()
    return counter.count - before


def test_a_steady_pass_asks_redis_the_same_whatever_the_app_count(world: World) -> None:
    counter = CountedRoundTrips(world.redis)
    steady_apps(world, 2)
    few = round_trips_of_a_pass(world, counter)

    steady_apps(world, 8)

    assert round_trips_of_a_pass(world, counter) == few


def test_a_ps_scale_committed_while_the_first_deploy_writes_its_formation_wins(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = world.new_app()
    world.release(app, {"web": WEB}, image="wharf/test:v1")
    world.scale(app, web="3:standard")
    app_id = next(target.app_id for target in load_targets(world.database_url, CIPHER) if target.name == app)

    # The first deploy looked before the `ps:scale` committed: it saw no formation and inserts its own.
    monkeypatch.setattr(Session, "scalar", lambda *_args, **_kwargs: None)
    set_first_formation(world.database_url, app_id, {"web": ProcessTarget(quantity=1, size="basic")})
    monkeypatch.undo()

    targets = {target.name: target for target in load_targets(world.database_url, CIPHER)}
    assert targets[app].formation["web"] == ProcessTarget(quantity=3, size="standard")
