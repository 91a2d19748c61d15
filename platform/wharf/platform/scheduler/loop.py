"""`wharfd scheduler`: a level-triggered loop converging the runtime to every app's desired state.

It wakes on the Redis wake channel (the API announces formation, config and release changes), on
dyno exits reported by the runtime, and on a resync interval, and then looks at everything again:
missing a wake-up only delays convergence by one interval. Deploys run in a thread per app; the
steady-state pass leaves an app alone while its deploy runs. On a runtime of several nodes the pass
also spreads formations over a node that joins or comes back (scheduler/rebalance.py).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Iterable

import redis

from wharf.platform.routing import BACKENDS_KEY, half_is_whole
from wharf.platform.runtime.base import Dyno, DynoNotFound, Runtime
from wharf.platform.runtime.placement import NodeAwareRuntime, PlacementNode
from wharf.platform.scheduler import desired
from wharf.platform.scheduler.deploy import Deployer
from wharf.platform.scheduler.desired import AppTarget
from wharf.platform.scheduler.dynos import is_finished_detached_oneoff
from wharf.platform.scheduler.fleet import Fleet, SchedulerOptions
from wharf.platform.scheduler.notify import WAKE_CHANNEL, end_stale_handover, restart_requests_of, runs_here
from wharf.platform.scheduler.reachability import MultiNodeRuntime, NodeReachability
from wharf.platform.scheduler.rebalance import Rebalancer, record_app_event
from wharf.platform.scheduler.reconciler import AppReconciler
from wharf.platform.security.crypto import ConfigCipher

log = logging.getLogger(__name__)
RETRY_SECONDS = 1.0


class Scheduler:
    def __init__(
        self,
        *,
        runtime: Runtime,
        client: redis.Redis[bytes],
        database_url: str,
        cipher: ConfigCipher,
        options: SchedulerOptions | None = None,
        runtime_name: str | None = None,
    ) -> None:
        self.fleet = Fleet(runtime, client, options or SchedulerOptions())
        # A scheduler that knows its runtime's name stands aside while the installation runs on another.
        self.runtime_name = runtime_name
        self.database_url = database_url
        self.cipher = cipher
        self.reconciler = AppReconciler(self.fleet)
        self.deployer = Deployer(self.fleet, database_url, self._load_target)
        self.rebalancer = Rebalancer(record_app_event(database_url), self.fleet.is_retiring)
        self._deploys: dict[str, threading.Thread] = {}
        self._wake = threading.Event()

    @property
    def runtime(self) -> Runtime:
        return self.fleet.runtime

    def wake(self) -> None:
        self._wake.set()

    def _load_target(self, app_name: str) -> AppTarget | None:
        return desired.load_target(self.database_url, self.cipher, app_name)

    # one pass

    def reconcile_once(self) -> float:
        """Look at every app once; returns the seconds until the next pass is wanted."""
        try:
            if self.runtime_name is not None and not runs_here(self.fleet.redis, self.runtime_name):
                return self.fleet.options.resync_seconds
            targets = desired.load_targets(self.database_url, self.cipher)
            existing = desired.app_names(self.database_url)
            dynos = self.runtime.list_dynos()
            restarts = restart_requests_of(self.fleet.redis, [target.name for target in targets])
            nodes = self._placement_nodes()
            routes_lost = not half_is_whole(self.fleet.redis, BACKENDS_KEY)
        except Exception:
            log.exception("cannot read the desired or the actual state; retrying")
            return RETRY_SECONDS
        self.rebalancer.observe(nodes, [target.name for target in targets])
        by_app: dict[str, list[Dyno]] = defaultdict(list)
        for dyno in dynos:
            by_app[dyno.app].append(dyno)
        delay = self.fleet.options.resync_seconds
        for target in targets:
            wanted = self._reconcile_app(target, by_app.pop(target.name, []), restarts[target.name])
            if wanted is not None:
                delay = min(delay, wanted)
        for app, orphans in by_app.items():
            if app not in existing:
                self._remove_orphans(app, orphans)
        if routes_lost:
            self._route_all_again(existing)
        self._remove_finished_oneoffs(dynos)
        return delay

    def _remove_finished_oneoffs(self, dynos: list[Dyno]) -> None:
        """Detached one-offs that ended a while ago: gone from `wharf ps`, as on Heroku."""
        keep = self.fleet.options.finished_oneoff_seconds
        now = time.time()
        for dyno in dynos:
            if not is_finished_detached_oneoff(dyno) or dyno.finished_at is None:
                continue
            if now - dyno.finished_at.timestamp() < keep:
                continue
            try:
                self.runtime.remove_dyno(dyno.id)
            except DynoNotFound:
                continue
            except Exception:
                log.exception("removing the finished one-off %s failed; retrying", dyno.name)
                continue
            log.info("removed %s: the one-off ended with status %s", dyno.name, dyno.exit_code)

    def _route_all_again(self, apps: Iterable[str]) -> None:
        """The scheduler's half of the route table was lost from Redis (or never written whole)."""
        try:
            self.fleet.route_all_again(apps)
        except Exception:
            log.exception("cannot write the dynos' routes whole again; retrying at the next pass")
            return
        log.warning("wrote the dynos' half of the route table whole again (it was not whole in Redis)")

    def _placement_nodes(self) -> list[PlacementNode]:
        runtime = self.runtime
        return runtime.placement_nodes() if isinstance(runtime, NodeAwareRuntime) else []

    def _reconcile_app(
        self, target: AppTarget, dynos: list[Dyno], restarts: dict[str, float]
    ) -> float | None:
        if self.deploying(target.name):
            return None
        pending, current = target.pending, target.current
        if pending is not None and (current is None or pending.version > current.version):
            self.rebalancer.forget(target.name)
            self._start_deploy(target)
            return None
        try:
            move = self.rebalancer.current(target.name, dynos)
            plan = self.reconciler.reconcile(target, dynos, restarts, move)
            again = self.rebalancer.after_pass(target.name, dynos, settled=plan.settled)
        except Exception:
            log.exception("reconciling %s failed; retrying", target.name)
            return RETRY_SECONDS
        looks = [delay for delay in (plan.next_look, again) if delay is not None]
        return min(looks) if looks else None

    def _remove_orphans(self, app: str, dynos: list[Dyno]) -> None:
        """Dynos of an app that no longer exists: out of routing, stopped, and the network removed."""
        try:
            self.fleet.route(app, [])
            self.fleet.retire(dynos, drain=True)
            if all(not d.running for d in dynos):
                self.fleet.remove_network_when_empty(app)
        except Exception:
            log.exception("removing the dynos of deleted app %s failed", app)

    # deploys

    def deploying(self, app: str) -> bool:
        thread = self._deploys.get(app)
        return thread is not None and thread.is_alive()

    def _start_deploy(self, target: AppTarget) -> None:
        def run() -> None:
            try:
                self.deployer.deploy(target)
            except Exception:
                log.exception("deploy of %s failed unexpectedly", target.name)
            finally:
                self.wake()

        thread = threading.Thread(target=run, name=f"deploy-{target.name}", daemon=True)
        self._deploys[target.name] = thread
        thread.start()

    def wait_for_deploys(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        for thread in list(self._deploys.values()):
            thread.join(max(0.0, deadline - time.monotonic()))

    # the loop

    def run(self, stop: threading.Event) -> None:
        self._end_stale_handover()
        for waker in (self._listen_for_wakes, self._listen_for_exits):
            threading.Thread(target=waker, args=(stop,), name=waker.__name__, daemon=True).start()
        if isinstance(self.runtime, MultiNodeRuntime):
            # Dynos on a node that stops answering leave rotation before Swarm marks the node down.
            prober = NodeReachability(self.fleet.redis)
            threading.Thread(
                target=prober.run, args=(self.runtime, stop), name="node-reachability", daemon=True
            ).start()
        log.info("scheduler running")
        while not stop.is_set():
            delay = self.reconcile_once()
            self._wake.wait(delay)
            self._wake.clear()
        self.wait_for_deploys(timeout=5)

    def _end_stale_handover(self) -> None:
        """A scheduler started on its settings' runtime is the installation's: an earlier handover of
        the scheduling to another runtime no longer holds (scheduler.notify.end_stale_handover)."""
        if self.runtime_name is None:
            return
        try:
            ended = end_stale_handover(self.fleet.redis, self.runtime_name)
        except (redis.RedisError, OSError):
            log.warning("cannot read the runtime the scheduling was handed over to; going on")
            return
        if ended is not None:
            log.info("the installation runs on %s: the handover to %s is over", self.runtime_name, ended)

    def _listen_for_wakes(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                pubsub = self.fleet.redis.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(WAKE_CHANNEL)
                while not stop.is_set():
                    if pubsub.get_message(timeout=1.0) is not None:
                        self.wake()
            except (redis.RedisError, OSError):
                log.warning("lost the wake channel; resubscribing")
                time.sleep(RETRY_SECONDS)

    def _listen_for_exits(self, stop: threading.Event) -> None:
        since = time.time()
        while not stop.is_set():
            try:
                for event in self.runtime.events(since=since, timeout=5.0):
                    since = max(since, event.time)
                    self.wake()
                    if stop.is_set():
                        return
            except Exception:
                log.warning("lost the runtime's event stream; following it again")
                time.sleep(RETRY_SECONDS)
