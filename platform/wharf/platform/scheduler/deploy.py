"""Deploying a release: the release phase, then a rolling replacement that never drops a request.

The new release's dynos start next to the old ones and must be ready (web: bind $PORT within the
boot timeout, or pass app.json's healthchecks within their attempts) before the router switches to
them. The old dynos leave routing first, drain, and are stopped. Any failure before the switch
removes the new dynos and leaves the old release serving, untouched. On the app's first deploy,
app.json's formation applies first and its postdeploy script runs once the release is live.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from wharf.platform.app_manifest import AppManifest, HealthCheck
from wharf.platform.errors import QuotaExceeded
from wharf.platform.formation_quotas import check_formation_quotas
from wharf.platform.progress import DeployOutput
from wharf.platform.routing import wait_until_served
from wharf.platform.runtime.base import DEFAULT_SIZE, Dyno, DynoNotFound
from wharf.platform.scheduler import desired
from wharf.platform.scheduler.desired import RELEASE_PROCESS, AppTarget, ReleaseTarget
from wharf.platform.scheduler.dynos import formation_spec, is_oneoff, oneoff_spec
from wharf.platform.scheduler.fleet import ROUTER_WAIT_SECONDS, Fleet
from wharf.platform.scheduler.health import check_failure
from wharf.platform.textlines import LineSplitter

log = logging.getLogger(__name__)
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
        manifest = self.fleet.options.manifest_for(release.image)
        try:
            self._clear_leftovers(target.name, release.version)
            self._release_phase(target.name, release, output)
            target = self._with_first_formation(target, manifest, output)
            started = self._launch(target, release, manifest, output)
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
        if target.current is None and manifest.postdeploy:
            self._postdeploy(target.name, release, manifest.postdeploy, output)
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
        code = self._run_oneoff(app, release, command, RELEASE_PROCESS, output)
        if code != 0:
            raise DeployFailed(f"The release command failed with exit code {code}.")

    def _postdeploy(self, app: str, release: ReleaseTarget, command: str, output: DeployOutput) -> None:
        """app.json's scripts.postdeploy, once, after the app's first release went live."""
        output.write("-----> Running postdeploy script (first deploy)...")
        code = self._run_oneoff(app, release, command, "postdeploy", output)
        if code != 0:
            output.write(
                f" !     The postdeploy script failed with exit code {code}; v{release.version} is live."
            )

    def _run_oneoff(
        self, app: str, release: ReleaseTarget, command: str, kind: str, output: DeployOutput
    ) -> int:
        """Run a one-off dyno to its end, its output relayed line by line to the push."""
        self.fleet.runtime.ensure_network(app)
        spec = oneoff_spec(app, release, command, process_type=kind, launcher=self.fleet.options.launcher)
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
        return code

    def _with_first_formation(
        self, target: AppTarget, manifest: AppManifest, output: DeployOutput
    ) -> AppTarget:
        """Heroku's first formation: web=1 when there is a web process, then app.json's `formation`."""
        release = target.pending
        if not target.first_deploy or release is None:
            return target
        wanted = {"web": desired.ProcessTarget(1, DEFAULT_SIZE)} if "web" in release.process_types else {}
        for kind, process in manifest.formation.items():
            if kind not in release.process_types:
                output.write(
                    f" !     app.json's formation names {kind}, which the Procfile does not declare."
                )
                continue
            base = wanted.get(kind, desired.ProcessTarget(0, DEFAULT_SIZE))
            quantity = base.quantity if process.quantity is None else process.quantity
            wanted[kind] = desired.ProcessTarget(quantity, process.size or base.size)
        if not wanted:
            return target
        try:
            check_formation_quotas(
                {kind: process.quantity for kind, process in wanted.items()}, self.fleet.options.quotas
            )
        except QuotaExceeded as error:
            raise DeployFailed(f"app.json's formation: {error}") from error
        desired.set_first_formation(self.database_url, target.app_id, wanted)
        return self.reload_target(target.name) or target

    def _launch(
        self, target: AppTarget, release: ReleaseTarget, manifest: AppManifest, output: DeployOutput
    ) -> list[Dyno]:
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
            if not manifest.web_checks:
                return self._wait_until_ready(started, None)
            others = self._wait_until_ready([d for d in started if d.process_type != "web"], None)
            web = [
                self._pass_checks(d, manifest.web_checks, output) for d in started if d.process_type == "web"
            ]
            return [*web, *others]
        except DeployFailed:
            self.fleet.retire(started, drain=False)
            raise

    def _pass_checks(self, dyno: Dyno, checks: tuple[HealthCheck, ...], output: DeployOutput) -> Dyno:
        """Dokku's semantics: wait initialDelay, then up to `attempts` tries, `wait` seconds apart."""
        output.write(f"-----> Checking {dyno.dyno}: " + ", ".join(c.path for c in checks))
        for check in checks:
            time.sleep(check.initial_delay)
            reason = ""
            for attempt in range(1, check.attempts + 1):
                dyno = self._still_running(dyno)
                reason = check_failure(dyno.address, check) or ""
                if not reason:
                    break
                output.write(f"       {check.path}: attempt {attempt} of {check.attempts} failed: {reason}")
                if attempt < check.attempts:
                    time.sleep(check.wait)
            if reason:
                raise DeployFailed(
                    f"{dyno.dyno} failed its health check {check.path} "
                    f"after {check.attempts} attempts ({reason})."
                )
        self.fleet.mark_healthy(dyno)
        return dyno

    def _still_running(self, dyno: Dyno) -> Dyno:
        try:
            current = self.fleet.runtime.get_dyno(dyno.id)
        except DynoNotFound:
            raise DeployFailed(f"{dyno.dyno} disappeared while booting.") from None
        if not current.running:
            raise DeployFailed(f"{current.dyno} crashed while booting (exit code {current.exit_code}).")
        return current

    def _wait_until_ready(self, dynos: list[Dyno], health_check: HealthCheck | None) -> list[Dyno]:
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
                if self.fleet.ready(dyno, health_check):
                    ready[dyno_id] = dyno
                    del waiting[dyno_id]
            if waiting and time.monotonic() > deadline:
                names = ", ".join(sorted(d.dyno for d in waiting.values()))
                check = f"answer {health_check.path}" if health_check else "bind $PORT"
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
        # The router sent requests to the old web dynos until now, also when this scheduler started
        # after them (a restart mid-deploy) and never probed them: each gets the drain.
        self.fleet.retire(old, drain=True, serving=True)
