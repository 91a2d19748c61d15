"""The rebalance on the in-memory runtime given nodes: which dyno moves where, one at a time per app,
each slot routed throughout, and no move once the spread is within one (the cluster tier runs it on a
real Swarm under load: tests/cluster/test_rebalance.py)."""

from __future__ import annotations

import dataclasses
import re
import threading
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime

import pytest
import redis

from tests.utils.busybox_dynos import TEST_IMAGE, WEB, fake_program_for
from tests.utils.scheduler_world import CIPHER, World
from wharf.platform.db import session_scope
from wharf.platform.logs.events import list_app_events
from wharf.platform.runtime.base import Dyno, DynoSpec, DynoState
from wharf.platform.runtime.fake import FakeRuntime
from wharf.platform.runtime.placement import (
    PlacementNode,
    fits,
    onto_node,
    placement_constraints,
)
from wharf.platform.scheduler.loop import Scheduler
from wharf.platform.scheduler.rebalance import plan_move

from .conftest import FAST

ROLE_WEB = {"wharf.placement.role": "node.labels.role==web"}


class NodesRuntime(FakeRuntime):
    """The fake runtime on named nodes: a dyno goes where its placement allows, on the node with the
    fewest running dynos (as Swarm's spread does), and says which node it is on."""

    def __init__(self, nodes: list[PlacementNode]) -> None:
        super().__init__(fake_program_for)
        self.nodes = {node.id: node for node in nodes}
        self._placed: dict[str, str] = {}
        self._placing = threading.Lock()

    def placement_nodes(self) -> list[PlacementNode]:
        return list(self.nodes.values())

    def set_availability(self, node_id: str, availability: str) -> None:
        self.nodes[node_id] = dataclasses.replace(self.nodes[node_id], availability=availability)

    def start_dyno(self, spec: DynoSpec) -> Dyno:
        constraints = placement_constraints(spec.labels)
        with self._placing:
            load = Counter(d.node for d in self.list_dynos() if d.running)
            free = [n for n in self.nodes.values() if n.takes_dynos and fits(n, constraints)]
            node = min(free, key=lambda n: (load[n.id], n.id))
            dyno = super().start_dyno(spec)
            self._placed[dyno.id] = node.id
        return dataclasses.replace(dyno, node=node.id)

    def get_dyno(self, dyno_id: str) -> Dyno:
        return self._on_node(super().get_dyno(dyno_id))

    def list_dynos(
        self,
        app: str | None = None,
        *,
        process_type: str | None = None,
        release: int | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> list[Dyno]:
        listed = super().list_dynos(app, process_type=process_type, release=release, labels=labels)
        return [self._on_node(d) for d in listed]

    def _on_node(self, dyno: Dyno) -> Dyno:
        return dataclasses.replace(dyno, node=self._placed.get(dyno.id))


def dyno(number: int, node: str, labels: Mapping[str, str] | None = None) -> Dyno:
    return Dyno(
        id=f"d{number}",
        app="app",
        process_type="web",
        number=number,
        release=1,
        state=DynoState.UP,
        command="",
        size="basic",
        started_at=datetime.now(UTC),
        finished_at=None,
        exit_code=None,
        address=("10.0.0.1", 5000 + number),
        labels=dict(labels or {}),
        node=node,
    )


def test_the_highest_numbered_dyno_of_the_busiest_node_moves_to_the_least_busy() -> None:
    nodes = [PlacementNode("a"), PlacementNode("b"), PlacementNode("c")]
    dynos = [dyno(1, "a"), dyno(2, "b"), dyno(3, "a"), dyno(4, "b"), dyno(5, "a"), dyno(6, "b")]
    move = plan_move("app", dynos, nodes)
    assert move is not None
    assert (move.dyno, move.source, move.target, move.spread) == ("web.5", "a", "c", "web spread 3/3/0")
    assert plan_move("app", [dyno(1, "a"), dyno(2, "a"), dyno(3, "b"), dyno(4, "c")], nodes) is None


def test_a_drained_node_or_one_without_the_types_labels_takes_no_move() -> None:
    nodes = [
        PlacementNode("a", labels={"role": "web"}),
        PlacementNode("b", labels={"role": "web"}, availability="drain"),
        PlacementNode("c", labels={"role": "builder"}),
        PlacementNode("d", labels={"role": "web"}, state="down"),
    ]
    placed = [dyno(n, "a", {**ROLE_WEB, **onto_node("a")}) for n in (1, 2, 3)]
    assert plan_move("app", placed, nodes) is None
    nodes.append(PlacementNode("e", labels={"role": "web"}))
    move = plan_move("app", placed, nodes)
    assert move is not None and move.target == "e", "the chosen node of a past move binds no type"


@pytest.mark.parametrize(
    ("constraint", "expected"),
    [
        ("node.labels.role==web", True),
        ("node.labels.role != web", False),
        ("node.labels.zone==eu", False),
        ("node.labels.zone!=eu", True),
        ("node.role==manager", False),
        ("node.hostname==one", True),
        ("node.id==a", True),
    ],
)
def test_constraints_read_as_swarm_reads_them(constraint: str, expected: bool) -> None:
    node = PlacementNode("a", hostname="one", role="worker", labels={"role": "web"})
    assert fits(node, [constraint]) is expected


def test_a_node_set_active_again_takes_two_moves_one_at_a_time_with_every_slot_routed(
    database_url: str, redis_client: redis.Redis[bytes]
) -> None:
    runtime = NodesRuntime([PlacementNode("a"), PlacementNode("b"), PlacementNode("c", availability="drain")])
    scheduler = Scheduler(
        runtime=runtime, client=redis_client, database_url=database_url, cipher=CIPHER, options=FAST
    )
    world = World(database_url=database_url, redis=redis_client, runtime=runtime, scheduler=scheduler)
    try:
        app = world.new_app()
        world.release(app, {"web": WEB}, image=TEST_IMAGE)
        assert world.deploy(app)[0] == "succeeded"
        world.scale(app, web=6)
        slots = [f"web.{n}" for n in range(1, 7)]
        # A dyno replaced under load (a boot that outlasts its timeout) can leave 4/2 for a moment;
        # the rebalance evens a and b out before the test goes on.
        world.converge(lambda: world.backends(app) == slots and spread(runtime, app) == {"a": 3, "b": 3})
        said_before = len(rebalance_messages(database_url, app))
        runtime.set_availability("c", "active")
        most_running = 0

        def settled() -> bool:
            nonlocal most_running
            assert world.backends(app) == slots, "every slot stays routed"
            most_running = max(most_running, len([d for d in world.dynos(app) if d.running]))
            return spread(runtime, app) == {"a": 2, "b": 2, "c": 2} and len(world.dynos(app)) == 6

        world.converge(settled)
        assert most_running == 7, "one dyno moves at a time"
        kept = {d.id for d in world.dynos(app)}
        for _ in range(10):
            scheduler.reconcile_once()
        assert {d.id for d in world.dynos(app)} == kept, "no move once the spread is within one"
        said = rebalance_messages(database_url, app)[said_before:]
        assert len(said) == 4, said
        for moving, moved, spread_then in zip(
            said[::2], said[1::2], (["3/3/0"], ["2/3/1", "3/2/1"]), strict=True
        ):
            assert re.fullmatch(r"Moving web\.\d from node [ab] to node c \(web spread .*\)", moving), said
            assert moving.endswith(tuple(f"(web spread {s})" for s in spread_then)), said
            assert moved == moving.replace("Moving", "Moved").split(" (")[0], said
    finally:
        world.close()


def spread(runtime: NodesRuntime, app: str) -> dict[str, int]:
    return dict(Counter(str(d.node) for d in runtime.list_dynos(app) if d.running))


def rebalance_messages(database_url: str, app: str) -> list[str]:
    """The app's rebalance events, oldest first."""
    with session_scope(database_url) as session:
        events = reversed(list_app_events(session=session, app_name=app))
        return [e.message for e in events if e.action == "rebalance"]
