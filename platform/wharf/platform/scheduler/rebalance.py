"""Spreading a formation again over a node that joins or comes back, one dyno at a time per app.

On a runtime of several nodes (placement.NodeAwareRuntime), each scheduler pass looks at which nodes
take dynos (ready and active). When a node starts to (it joined, came back, or was set active again
after a drain or pause; every node counts as new when the scheduler starts), every app is looked at
once its formation is settled: a process type whose dynos are spread so that the busiest eligible
node (one that takes dynos and fits the type's placement constraints) holds at least two more than
the least busy gets one dyno moved, from the busiest onto the least busy. The move is a rolling
restart of that one dyno: the reconciler treats it as outdated and starts its successor with a
placement onto the chosen node; the successor must be up, healthy and routed before the old dyno
leaves routing, drains and stops, as for `ps:restart`. Once it is done the app is looked at again,
and the moves end as soon as every process type is within one: nothing is moved until the next
node joins, so the rebalance never fights the scheduler. A move whose target stops taking dynos,
whose dyno ends, or that is not done within MOVE_TIMEOUT is dropped, and so is the app's rebalance.

Each move is an app event (`wharf logs`): `Moving web.3 from node A to node B (web spread 3/3/0)`
and `Moved web.3 ...`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from wharf.platform.db import session_scope
from wharf.platform.logs.events import record_event
from wharf.platform.runtime.base import Dyno
from wharf.platform.runtime.placement import PlacementNode, fits, onto_node, process_constraints
from wharf.platform.scheduler.dynos import is_oneoff

log = logging.getLogger(__name__)
MOVE_TIMEOUT = 180.0
# How soon a pass comes back to an app whose next move was just chosen.
NEXT_MOVE_SECONDS = 0.05
EVENT_ACTION = "rebalance"
AppEvent = Callable[[str, str], None]


@dataclass(frozen=True)
class Move:
    """One dyno (a slot like web.3) to be started again on `target`, off `source`."""

    app: str
    process_type: str
    number: int
    dyno_id: str
    source: str
    target: str
    spread: str
    began: float

    @property
    def dyno(self) -> str:
        return f"{self.process_type}.{self.number}"

    def placement(self, process_type: str, number: int) -> dict[str, str]:
        """The placement labels of the slot's successor: onto the target for the moved slot."""
        return onto_node(self.target) if (process_type, number) == (self.process_type, self.number) else {}


def plan_move(app: str, dynos: Sequence[Dyno], nodes: Sequence[PlacementNode]) -> Move | None:
    """The first process type (by name) spread unevenly by two or more: its highest-numbered dyno on
    the busiest eligible node, to go to the least busy one. None when every type is within one."""
    running = [d for d in dynos if d.running and d.node and not is_oneoff(d)]
    for process_type in sorted({d.process_type for d in running}):
        members = [d for d in running if d.process_type == process_type]
        constraints = sorted({c for d in members for c in process_constraints(d.labels)})
        eligible = sorted((n for n in nodes if n.takes_dynos and fits(n, constraints)), key=lambda n: n.id)
        if len(eligible) < 2:
            continue
        on = {node.id: [d for d in members if d.node == node.id] for node in eligible}
        busiest = max(eligible, key=lambda n: len(on[n.id]))
        lightest = min(eligible, key=lambda n: len(on[n.id]))
        if len(on[busiest.id]) - len(on[lightest.id]) < 2:
            continue
        moved = max(on[busiest.id], key=lambda d: d.number)
        return Move(
            app=app,
            process_type=process_type,
            number=moved.number,
            dyno_id=moved.id,
            source=busiest.id,
            target=lightest.id,
            spread=f"{process_type} spread " + "/".join(str(len(on[n.id])) for n in eligible),
            began=time.monotonic(),
        )
    return None


def record_app_event(database_url: str) -> AppEvent:
    """An app event for each step, in the app's log and events like a deploy's."""

    def say(app: str, message: str) -> None:
        log.info("%s: %s", app, message)
        try:
            with session_scope(database_url) as session:
                record_event(session=session, actor=None, action=EVENT_ACTION, app_name=app, message=message)
        except Exception:
            log.exception("could not record the rebalance event of %s", app)

    return say


class Rebalancer:
    """The scheduler's memory of the rebalance: the nodes that took dynos at the last pass, the apps
    to look at, and each app's move in progress (in memory only: a restarted scheduler counts every
    node as new and looks at every app again, and a slot left with two dynos keeps the older)."""

    def __init__(self, say: AppEvent, is_retiring: Callable[[str], bool]) -> None:
        self._say = say
        self._is_retiring = is_retiring
        self._taking: frozenset[str] | None = None
        self._nodes: dict[str, PlacementNode] = {}
        self._wanted: set[str] = set()
        self._moves: dict[str, Move] = {}

    def observe(self, nodes: Iterable[PlacementNode], apps: Iterable[str]) -> None:
        """A pass's look at the nodes: a node that newly takes dynos makes every app worth a look."""
        self._nodes = {node.id: node for node in nodes}
        taking = frozenset(node_id for node_id, node in self._nodes.items() if node.takes_dynos)
        joined = taking - (self._taking or frozenset())
        if joined and len(taking) > 1:
            names = ", ".join(self._nodes[node_id].label for node_id in sorted(joined))
            log.info("%s now takes dynos: looking at every app's spread", names)
            self._wanted |= set(apps)
        self._taking = taking

    def forget(self, app: str) -> None:
        """The app deploys (its dynos are all replaced anyway) or is gone: no move of its own."""
        self._moves.pop(app, None)
        self._wanted.discard(app)

    def current(self, app: str, dynos: Sequence[Dyno]) -> Move | None:
        """The app's move in progress, after checking whether it is done or must be dropped."""
        move = self._moves.get(app)
        if move is None:
            return None
        live = [d for d in dynos if not self._is_retiring(d.id)]
        old = next((d for d in live if d.id == move.dyno_id), None)
        if old is None:
            del self._moves[app]
            landed = any(
                d.node == move.target and d.dyno == move.dyno and d.running and d.id != move.dyno_id
                for d in live
            )
            if landed:
                self._say(
                    app, f"Moved {move.dyno} from {self._name(move.source)} to {self._name(move.target)}"
                )
            return None
        reason = self._reason_to_drop(move, old)
        if reason:
            self._say(app, f"Stopped moving {move.dyno} to {self._name(move.target)}: {reason}")
            self.forget(app)
            return None
        return move

    def after_pass(self, app: str, dynos: Sequence[Dyno], *, settled: bool) -> float | None:
        """Choose the app's next move once its formation is settled; how soon to look again."""
        if app in self._moves or app not in self._wanted or not settled:
            return None
        live = [d for d in dynos if not self._is_retiring(d.id)]
        move = plan_move(app, live, list(self._nodes.values()))
        if move is None:
            self._wanted.discard(app)
            return None
        self._moves[app] = move
        self._say(
            app,
            f"Moving {move.dyno} from {self._name(move.source)} to {self._name(move.target)} ({move.spread})",
        )
        return NEXT_MOVE_SECONDS

    def _reason_to_drop(self, move: Move, old: Dyno) -> str:
        target = self._nodes.get(move.target)
        if target is None or not target.takes_dynos:
            return "the node no longer takes dynos"
        if not old.running:
            return "the dyno ended"
        if time.monotonic() - move.began > MOVE_TIMEOUT:
            return f"its successor was not up and routed within {MOVE_TIMEOUT:.0f} s"
        return ""

    def _name(self, node_id: str) -> str:
        node = self._nodes.get(node_id)
        return node.label if node else f"node {node_id[:12]}"
