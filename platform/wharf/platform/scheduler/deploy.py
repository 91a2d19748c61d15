"""Deploying a release: the release phase, then a rolling replacement that never drops a request.

The new release's dynos start next to the old ones, must be ready (web: bind $PORT and pass the
health check) within the boot timeout, and only then does the router switch to them. The old dynos
leave routing first, drain, and are stopped. Any failure before the switch removes the new dynos
and leaves the old release serving, untouched.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from wharf.platform.progress import DeployOutput
from wharf.platform.routing import wait_until_served
from wharf.platform.runtime.base import Dyno, DynoNotFound
from wharf.platform.scheduler import desired
from wharf.platform.scheduler.desired import RELEASE_PROCESS, AppTarget, ReleaseTarget
from wharf.platform.scheduler.dynos import formation_spec, is_oneoff, oneoff_spec
from wharf.platform.scheduler.fleet import Fleet
from wharf.platform.textlines import LineSplitter

log = logging.getLogger(__name__)
# How long a deploy waits for the router to serve its new dynos (nginx reloads in well under one).
ROUTER_WAIT_SECONDS = 5.0
TargetLoader = Callable[[str], AppTarget | None]


class DeployFailed(Exception):
    """The release cannot go live; the message says why, for the pusher."""


ADDRESS_POOL_HINT = "could not find an available, non-overlapping IPv4 address pool"


def start_failure(error: Exception) -> DeployFailed:
    """A runtime error while starting the release, as the pusher should read it."""
    text = str(error).strip() or type(error).__name__
    if ADDRESS_POOL_HINT in text:
        return DeployFailed(
            "Docker has no free address range for the app's network (it said: "
            f"{ADDRESS_POOL_HINT}). The operator must give Docker more room: set default-address-pools "
            "in /etc/docker/daemon.json (scripts/install.sh does) and restart dockerd."
        )
    return DeployFailed(f"The platform could not start the release: {text}")


class Deployer:
    def __init__(self, fleet: Fleet, database_url: str, reload_target: TargetLoader) -> None:
        self.fleet = fleet
        self.database_url = database_url
        self.reload_target = reload_target

    def deploy(self, target: AppTarget) -> bool:
        """Deploy the app's pending release; True when it went live."""
        release = target.pending
        assert release is not None
        output = DeployOutput(self.fleet.redis, target.name, release.version)
        serving = f"v{target.current.version} keeps serving" if target.current else "nothing was running"
        started: list[Dyno] = []
        try:
            self._clear_leftovers(target.name, release.version)
            self._release_phase(target.name, release, output)
            target = self._with_first_formation(target)
            started = self._launch(target, release, output)
            desired.record_deploy(
                self.database_url,
                target.app_id,
                release.version,
                succeeded=True,
                message=f"Deployed v{release.version}",
            )
        except Exception as error:
            # Any failure fails this deploy once, with a message, instead of leaving it pending and retried.
            failure = error if isinstance(error, DeployFailed) else start_failure(error)
            if not isinstance(error, DeployFailed):
                log.warning("deploy of %s v%s failed: %s", target.name, release.version, error)
            self.fleet.retire(started, drain=False)
            desired.record_deploy(
                self.database_url,
                target.app_id,
                release.version,
                succeeded=False,
                message=f"Deploy of v{release.version} failed: {failure}",
            )
            output.finish("failed", f"{failure} v{release.version} is not deployed; {serving}.")
            return False
        self._switch(target.name, release.version, [d for d in started if d.process_type == "web"])
        output.finish("succeeded", f"Deployed v{release.version}")
        return True

    def _clear_leftovers(self, app: str, version: int) -> None:
        """Dynos of this release from an interrupted deploy were never routed: start over."""
        leftovers = [d for d in self.fleet.runtime.list_dynos(app, release=version) if not is_oneoff(d)]
        self.fleet.retire(leftovers, drain=False)

    def _release_phase(self, app: str, release: ReleaseTarget, output: DeployOutput) -> None:
        command = release.process_types.get(RELEASE_PROCESS)
        if not command:
            return
        output.write("-----> Running release command...")
        self.fleet.runtime.ensure_network(app)
        spec = oneoff_spec(
            app, release, command, process_type=RELEASE_PROCESS, launcher=self.fleet.options.launcher
        )
        splitter = LineSplitter()

        def relay(chunk: bytes) -> None:
            for line in splitter.feed(chunk):
                output.write("       " + line)

        code = self.fleet.runtime.run_oneoff(
            spec, on_output=relay, timeout=self.fleet.options.release_phase_timeout
        )
        for line in splitter.close():
            if line.strip():
                output.write("       " + line)
        if code != 0:
            raise DeployFailed(f"The release command failed with exit code {code}.")

    def _with_first_formation(self, target: AppTarget) -> AppTarget:
        release = target.pending
        if target.first_deploy and release is not None and "web" in release.process_types:
            desired.scale_first_web_dyno(self.database_url, target.app_id)
            return self.reload_target(target.name) or target
        return target

    def _launch(self, target: AppTarget, release: ReleaseTarget, output: DeployOutput) -> list[Dyno]:
        options = self.fleet.options
        specs = [
            formation_spec(target.name, release, kind, number, process.size, launcher=options.launcher)
            for kind, process in sorted(target.wanted(release).items())
            for number in range(1, process.quantity + 1)
        ]
        if not specs:
            return []
        output.write("-----> Launching...")
        results = self.fleet.start(specs)
        started = [r for r in results if isinstance(r, Dyno)]
        failures = [r for r in results if isinstance(r, Exception)]
        if failures:
            self.fleet.retire(started, drain=False)
            raise start_failure(failures[0])
        try:
            return self._wait_until_ready(started, options.health_path_for(release.image))
        except DeployFailed:
            self.fleet.retire(started, drain=False)
            raise

    def _wait_until_ready(self, dynos: list[Dyno], health_path: str | None) -> list[Dyno]:
        deadline = time.monotonic() + self.fleet.options.boot_timeout
        waiting = {d.id: d for d in dynos}
        ready: dict[str, Dyno] = {}
        while waiting:
            for dyno_id in list(waiting):
                try:
                    dyno = self.fleet.runtime.get_dyno(dyno_id)
                except DynoNotFound:
                    raise DeployFailed(f"{waiting[dyno_id].dyno} disappeared while booting.") from None
                if not dyno.running:
                    raise DeployFailed(f"{dyno.dyno} crashed while booting (exit code {dyno.exit_code}).")
                if self.fleet.ready(dyno, health_path):
                    ready[dyno_id] = dyno
                    del waiting[dyno_id]
            if waiting and time.monotonic() > deadline:
                names = ", ".join(sorted(d.dyno for d in waiting.values()))
                check = f"answer {health_path}" if health_path else "bind $PORT"
                raise DeployFailed(f"{names} did not {check} within {self.fleet.options.boot_timeout:.0f} s.")
            if waiting:
                time.sleep(self.fleet.options.probe_interval / 2)
        return [ready[d.id] for d in dynos]

    def _switch(self, app: str, version: int, web: list[Dyno]) -> None:
        """Route the new web dynos, then retire every dyno of another release."""
        self.fleet.route(app, web)
        # "Deployed" means served: the push ends once the router sends traffic to the new dynos.
        if not wait_until_served(self.fleet.redis, timeout=ROUTER_WAIT_SECONDS):
            log.warning("the router has not applied %s's new routes within %s s", app, ROUTER_WAIT_SECONDS)
        old = [d for d in self.fleet.runtime.list_dynos(app) if not is_oneoff(d) and d.release != version]
        self.fleet.retire(old, drain=True)
