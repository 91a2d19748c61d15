"""One reconciliation pass for one app between deploys: the formation of its current release.

Each slot (process type and number, like web.2) should hold exactly one ready dyno of the current
release and the formation's size. A dyno that crashed is replaced after its backoff; a dyno of the
wrong size, with a restart requested, on a runtime being left (runtime.moving), or being moved onto
another node (scheduler.rebalance) is replaced by starting its successor first and retiring it only
once the successor is ready, so a restart never leaves a slot without a serving dyno.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field

from wharf.platform.app_manifest import HealthCheck
from wharf.platform.runtime.base import Dyno, DynoSpec
from wharf.platform.runtime.moving import is_leaving
from wharf.platform.scheduler.desired import AppTarget, ProcessTarget, ReleaseTarget
from wharf.platform.scheduler.dynos import (
    crash_streak,
    formation_spec,
    is_oneoff,
    never_started,
    restart_due_at,
)
from wharf.platform.scheduler.fleet import Fleet
from wharf.platform.scheduler.notify import matches_target
from wharf.platform.scheduler.rebalance import Move

Slot = tuple[str, int]


@dataclass(frozen=True)
class SlotTarget:
    """What one slot (like web.2) of the current release should hold."""

    app: str
    release: ReleaseTarget
    kind: str
    number: int
    process: ProcessTarget


@dataclass
class PassPlan:
    """What one pass decided: dynos to start and to retire, what to route, and when to look again."""

    starts: list[DynoSpec] = field(default_factory=list)
    retire: list[Dyno] = field(default_factory=list)
    remove_now: list[Dyno] = field(default_factory=list)
    routed: list[Dyno] = field(default_factory=list)
    next_look: float | None = None

    @property
    def settled(self) -> bool:
        """Nothing to start, retire or wait for: every slot holds its one ready dyno."""
        return not (self.starts or self.retire or self.remove_now) and self.next_look is None

    def look_within(self, seconds: float) -> None:
        seconds = max(seconds, 0.05)
        self.next_look = seconds if self.next_look is None else min(self.next_look, seconds)


def _outdated(dyno: Dyno, process: ProcessTarget, restarts: dict[str, float], move: Move | None) -> bool:
    if dyno.size != process.size or is_leaving(dyno) or (move is not None and dyno.id == move.dyno_id):
        return True
    started = dyno.started_at.timestamp() if dyno.started_at else time.time()
    return any(
        matches_target(target, dyno.process_type, dyno.number) and started < before
        for target, before in restarts.items()
    )


def _group_slots(
    dynos: list[Dyno], release: ReleaseTarget | None, wanted: dict[str, ProcessTarget], plan: PassPlan
) -> dict[Slot, list[Dyno]]:
    slots: dict[Slot, list[Dyno]] = defaultdict(list)
    for dyno in dynos:
        process = wanted.get(dyno.process_type)
        if (
            release is None
            or dyno.release != release.version
            or process is None
            or dyno.number > process.quantity
        ):
            plan.retire.append(dyno)
        else:
            slots[(dyno.process_type, dyno.number)].append(dyno)
    return slots


class AppReconciler:
    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet

    def reconcile(
        self, target: AppTarget, dynos: list[Dyno], restarts: dict[str, float], move: Move | None = None
    ) -> PassPlan:
        """Converge one app; the plan's next_look says how soon it wants another pass (None: at the
        resync interval). `move` is a dyno to start again on another node (scheduler.rebalance)."""
        plan = self.plan(target, dynos, restarts, move)
        self.fleet.route(target.name, plan.routed)
        for dyno in plan.remove_now:
            self.fleet.retire([dyno], drain=False)
        self.fleet.retire(plan.retire, drain=True)
        if plan.starts:
            # After failed starts (no address pool, no image, ...) wait out the back-off, never hot-loop.
            waiting = self.fleet.start_backoff(target.name)
            if not waiting:
                self.fleet.start(plan.starts)
                waiting = self.fleet.start_backoff(target.name)
            plan.look_within(max(waiting, self.fleet.options.probe_interval))
        return plan

    def plan(
        self, target: AppTarget, dynos: list[Dyno], restarts: dict[str, float], move: Move | None = None
    ) -> PassPlan:
        plan = PassPlan()
        release = target.current
        wanted = target.wanted(release) if release else {}
        live = [d for d in dynos if not is_oneoff(d) and not self.fleet.is_retiring(d.id)]
        plan.remove_now.extend(d for d in live if never_started(d))
        slots = _group_slots([d for d in live if not never_started(d)], release, wanted, plan)
        if release is None:
            return plan
        health_check = self.fleet.options.health_check_for(release.image)
        for kind, process in sorted(wanted.items()):
            for number in range(1, process.quantity + 1):
                slot = SlotTarget(app=target.name, release=release, kind=kind, number=number, process=process)
                group = slots.get((kind, number), [])
                self._plan_slot(
                    slot, group, restarts=restarts, move=move, health_check=health_check, plan=plan
                )
        return plan

    def _plan_slot(
        self,
        slot: SlotTarget,
        group: list[Dyno],
        *,
        restarts: dict[str, float],
        move: Move | None,
        health_check: HealthCheck | None,
        plan: PassPlan,
    ) -> None:
        """Decide for one slot: keep its ready dyno, restart a crashed one after its backoff, or start one."""
        fresh = [d for d in group if not _outdated(d, slot.process, restarts, move)]
        old = [d for d in group if d not in fresh]
        plan.remove_now.extend(d for d in old if not d.running)
        old_serving = [d for d in old if d.running]
        running = sorted((d for d in fresh if d.running), key=_age_key)
        stopped = sorted((d for d in fresh if not d.running), key=_finished_key)
        if running:
            if self._keep_running(slot, running, stopped, old_serving, health_check, plan):
                return
        elif stopped:
            self._restart_stopped(slot, stopped, plan)
        else:
            placement = move.placement(slot.kind, slot.number) if move is not None else {}
            plan.starts.append(self._spec(slot, placement=placement))
        if slot.kind == "web":
            plan.routed.extend(d for d in old_serving if self.fleet.ready(d, health_check))

    def _keep_running(
        self,
        slot: SlotTarget,
        running: list[Dyno],
        stopped: list[Dyno],
        old_serving: list[Dyno],
        health_check: HealthCheck | None,
        plan: PassPlan,
    ) -> bool:
        """Keep the oldest running dyno; True once it is ready, so the old ones it replaces can go."""
        keeper, *extra = running
        plan.retire.extend(extra)
        plan.remove_now.extend(stopped)
        if not self._ready(keeper, health_check, plan):
            return False
        plan.retire.extend(old_serving)
        if slot.kind == "web":
            plan.routed.append(keeper)
        return True

    def _restart_stopped(self, slot: SlotTarget, stopped: list[Dyno], plan: PassPlan) -> None:
        """Replace the latest stopped dyno once its backoff is over, carrying its crash count on."""
        latest, *older = stopped
        plan.remove_now.extend(older)
        due = restart_due_at(latest)
        if due <= time.time():
            plan.remove_now.append(latest)
            plan.starts.append(self._spec(slot, restarts=crash_streak(latest) + 1))
        else:
            plan.look_within(due - time.time())

    def _spec(
        self, slot: SlotTarget, *, restarts: int = 0, placement: dict[str, str] | None = None
    ) -> DynoSpec:
        return formation_spec(
            slot.app,
            slot.release,
            slot.kind,
            slot.number,
            slot.process.size,
            restarts=restarts,
            launcher=self.fleet.options.launcher,
            placement=placement,
        )

    def _ready(self, dyno: Dyno, health_check: HealthCheck | None, plan: PassPlan) -> bool:
        if self.fleet.ready(dyno, health_check):
            return True
        if self.fleet.boot_overdue(dyno):
            self.fleet.kill(dyno)
        plan.look_within(self.fleet.options.probe_interval)
        return False


def _age_key(dyno: Dyno) -> tuple[float, str]:
    """Oldest first, so that of two duplicates the one that has been serving is kept."""
    return (dyno.started_at.timestamp() if dyno.started_at else float("inf"), dyno.id)


def _finished_key(dyno: Dyno) -> tuple[float, str]:
    """Most recently ended first: its restart count is the one that carries on."""
    return (-(dyno.finished_at.timestamp() if dyno.finished_at else 0.0), dyno.id)
