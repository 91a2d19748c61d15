"""Starting, probing, routing and retiring dynos: the moves both the reconciler and deploys make.

What the scheduler remembers in memory (which dynos passed their health check, which are being
retired, what was last routed) is only a cache: after a restart it is rebuilt by probing again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import redis

from wharf.platform.app_manifest import EMPTY, AppManifest, HealthCheck
from wharf.platform.routing import replace_app_backends, set_app_backends, wait_until_served
from wharf.platform.runtime.base import Dyno, DynoNotFound, DynoSpec, NetworkInUse, Runtime
from wharf.platform.scheduler.dynos import LAUNCHER
from wharf.platform.scheduler.health import probe
from wharf.platform.settings import Quotas

log = logging.getLogger(__name__)
# After failed starts an app waits 1, 2, 4 ... seconds, at most START_BACKOFF_CAP, before the next try.
START_BACKOFF_BASE = 1.0
START_BACKOFF_CAP = 120.0
# How long a deploy waits for the router to serve its new dynos, and a drain for the table without
# the dyno before it counts down (nginx reloads in well under one).
ROUTER_WAIT_SECONDS = 5.0
BackendsPublisher = Callable[["redis.Redis[bytes]", str, list[dict[str, Any]]], None]


@dataclass(frozen=True)
class SchedulerOptions:
    """Timings from Heroku's dyno manager: 60 s to bind $PORT, 30 s from SIGTERM to SIGKILL."""

    resync_seconds: float = 3.0
    boot_timeout: float = 60.0
    stop_timeout: float = 30.0
    # Time for the router to stop sending new requests to a dyno before it gets SIGTERM.
    drain_seconds: float = 3.0
    release_phase_timeout: float = 3600.0
    probe_interval: float = 0.2
    launcher: Sequence[str] = LAUNCHER
    manifest_for: Callable[[str], AppManifest] = field(default=lambda _image: EMPTY)
    # The operator's dyno quotas, which app.json's first formation keeps like `ps:scale` does.
    quotas: Quotas = field(default_factory=Quotas)
    # How long a detached one-off (`wharf run --detach`) that ended stays in `wharf ps`, its exit
    # shown and its output shipped, before it is removed.
    finished_oneoff_seconds: float = 60.0

    def health_check_for(self, image: str) -> HealthCheck | None:
        """The web check that readiness between deploys uses: the first of app.json's, if any."""
        checks = self.manifest_for(image).web_checks
        return checks[0] if checks else None


def backend_of(dyno: Dyno) -> dict[str, Any]:
    assert dyno.address is not None
    return {"dyno": dyno.dyno, "host": dyno.address[0], "port": dyno.address[1]}


class Fleet:
    def __init__(
        self,
        runtime: Runtime,
        client: redis.Redis[bytes],
        options: SchedulerOptions,
        publish_backends: BackendsPublisher = set_app_backends,
    ) -> None:
        self.runtime = runtime
        self.redis = client
        self.options = options
        self._publish_backends = publish_backends
        self._lock = threading.Lock()
        self._healthy: set[str] = set()
        self._retiring: set[str] = set()
        self._routed: dict[str, list[dict[str, Any]]] = {}
        # Held from reading what is routed to publishing it: a whole half never overwrites a newer route.
        self._publishing = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="dyno-start")
        self._retirements: list[threading.Thread] = []
        # app -> (failed start rounds in a row, monotonic time before which no start is tried)
        self._start_failures: dict[str, tuple[int, float]] = {}

    def start(self, specs: Sequence[DynoSpec]) -> list[Dyno | Exception]:
        """Start dynos in parallel (Docker takes a fraction of a second for each).

        An app whose network cannot be made gets an error for each of its dynos; an app with any
        failure backs off (see `start_backoff`).
        """
        network_errors: dict[str, Exception] = {}
        for app in sorted({spec.app for spec in specs}):
            try:
                self.runtime.ensure_network(app)
            except Exception as error:
                log.warning("could not make the network of %s: %s", app, error)
                network_errors[app] = error

        def start_one(spec: DynoSpec) -> Dyno | Exception:
            if spec.app in network_errors:
                return network_errors[spec.app]
            try:
                return self.runtime.start_dyno(spec)
            except Exception as error:
                log.warning("could not start %s: %s", spec.name, error)
                return error

        results = list(self._pool.map(start_one, specs))
        for app in {spec.app for spec in specs}:
            failed = any(
                isinstance(r, Exception) for s, r in zip(specs, results, strict=True) if s.app == app
            )
            self._note_start_round(app, failed)
        return results

    def _note_start_round(self, app: str, failed: bool) -> None:
        with self._lock:
            if not failed:
                self._start_failures.pop(app, None)
                return
            rounds = self._start_failures.get(app, (0, 0.0))[0] + 1
            wait = min(START_BACKOFF_CAP, START_BACKOFF_BASE * 2 ** (rounds - 1))
            self._start_failures[app] = (rounds, time.monotonic() + wait)

    def start_backoff(self, app: str) -> float:
        """Seconds before the app's next start may be tried (0: now)."""
        with self._lock:
            _, until = self._start_failures.get(app, (0, 0.0))
        return max(0.0, until - time.monotonic())

    def ready(self, dyno: Dyno, check: HealthCheck | None) -> bool:
        """Web dynos are ready once they pass the health check; other dynos once they run."""
        if not dyno.running:
            self.forget(dyno.id)
            return False
        if dyno.process_type != "web":
            return True
        with self._lock:
            if dyno.id in self._healthy:
                return True
        path, content = (check.path, check.content) if check else (None, "")
        if probe(dyno.address, path, content=content):
            self.mark_healthy(dyno)
            return True
        return False

    def mark_healthy(self, dyno: Dyno) -> None:
        with self._lock:
            self._healthy.add(dyno.id)

    def boot_overdue(self, dyno: Dyno) -> bool:
        if dyno.started_at is None:
            return False
        return time.time() - dyno.started_at.timestamp() > self.options.boot_timeout

    def forget(self, dyno_id: str) -> None:
        with self._lock:
            self._healthy.discard(dyno_id)

    def route(self, app: str, dynos: Iterable[Dyno]) -> None:
        """Make exactly these dynos the app's backends (a no-op when that is already so)."""
        backends = sorted((backend_of(d) for d in dynos if d.address), key=lambda b: str(b["dyno"]))
        with self._publishing:
            with self._lock:
                if self._routed.get(app) == backends:
                    return
            self._publish_backends(self.redis, app, backends)
            with self._lock:
                self._routed[app] = backends

    def route_all_again(self, apps: Iterable[str]) -> None:
        """Write the scheduler's whole half of the route table: APPS' backends as routed now."""
        with self._publishing:
            with self._lock:
                routed = {app: list(self._routed.get(app, [])) for app in apps}
            replace_app_backends(self.redis, routed)

    def routed(self, app: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._routed.get(app, []))

    def is_retiring(self, dyno_id: str) -> bool:
        with self._lock:
            return dyno_id in self._retiring

    def retire(self, dynos: Iterable[Dyno], *, drain: bool, serving: bool = False) -> None:
        """Stop and remove dynos in the background; call only once they are out of routing. With DRAIN
        a dyno that was routed gets the drain first: one this scheduler found healthy, or, with SERVING
        (the live release's dynos), any running web dyno, which an earlier scheduler may have routed
        before this one started and never probed."""
        for dyno in dynos:
            with self._lock:
                if dyno.id in self._retiring:
                    continue
                self._retiring.add(dyno.id)
                was_routed = dyno.id in self._healthy or (serving and dyno.process_type == "web")
            wait = self.options.drain_seconds if drain and was_routed and dyno.running else 0.0
            thread = threading.Thread(
                target=self._retire, args=(dyno, wait), name=f"retire-{dyno.name}", daemon=True
            )
            thread.start()
            self._retirements = [t for t in self._retirements if t.is_alive()] + [thread]

    def _retire(self, dyno: Dyno, wait: float) -> None:
        try:
            if wait:
                # The drain counts from when the router serves the table without the dyno, so the
                # requests it sent there before have `wait` seconds to finish.
                wait_until_served(self.redis, timeout=ROUTER_WAIT_SECONDS)
                time.sleep(wait)
            if dyno.running:
                self.runtime.stop_dyno(dyno.id, timeout=self.options.stop_timeout)
            self.runtime.remove_dyno(dyno.id)
        except DynoNotFound:
            pass
        except Exception:
            log.exception("could not retire %s", dyno.name)
        finally:
            with self._lock:
                self._retiring.discard(dyno.id)
                self._healthy.discard(dyno.id)

    def kill(self, dyno: Dyno) -> None:
        """End a dyno that never booted, leaving it crashed (so the restart backoff applies)."""
        self.forget(dyno.id)
        try:
            self.runtime.stop_dyno(dyno.id, timeout=1)
        except DynoNotFound:
            return

    def remove_network_when_empty(self, app: str) -> None:
        try:
            self.runtime.remove_network(app)
        except NetworkInUse:
            return

    def wait_for_retirements(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        for thread in list(self._retirements):
            thread.join(max(0.0, deadline - time.monotonic()))

    def close(self) -> None:
        self._pool.shutdown(wait=True)
