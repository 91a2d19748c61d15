"""Moving a running single-host installation's dynos onto its new swarm, without a failed request.

`move_to_swarm` is the one owner of the move (`wharfd cluster init` calls it). It hands the
scheduling over to the Swarm runtime (a scheduler on another runtime stands aside from then on, see
scheduler.notify.hand_over_runtime), then runs scheduler passes on a MovingRuntime: every dyno of the
Docker runtime is listed as leaving, so the reconciler refills each slot on the swarm first and
retires the plain container only once its successor is ready and routed, as a rolling restart does.
The move ends when the Docker runtime runs no dyno of this installation.

An app's bridge network `wharf-app-<app>` stays (its add-ons are on it, on the manager's engine); its
dynos on the swarm join the attachable overlay `wharf-swarm-<app>`, and the add-ons' containers join
that overlay too, under the aliases they have on the bridge, so the dynos reach them by the same names.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from wharf.platform.cluster.errors import ClusterError
from wharf.platform.runtime.base import LABEL_APP, LABEL_DYNO, Dyno, Runtime, network_name
from wharf.platform.runtime.moving import MovingRuntime
from wharf.platform.scheduler.dynos import is_oneoff
from wharf.platform.scheduler.fleet import SchedulerOptions
from wharf.platform.scheduler.notify import hand_over_runtime
from wharf.platform.scheduler.service import build_scheduler

if TYPE_CHECKING:
    import docker

    from wharf.platform.scheduler.loop import Scheduler
    from wharf.platform.settings import Settings

SWARM = "swarm"
MOVE_TIMEOUT = 600.0
PASS_SECONDS = 0.2


@dataclass
class MoveReport:
    """What a move did: the apps whose dynos moved and how many dynos it started on the swarm."""

    apps: list[str] = field(default_factory=list)
    started: int = 0
    seconds: float = 0.0


def move_to_swarm(
    settings: Settings,
    *,
    engine: docker.DockerClient | None,
    source: Runtime,
    target: Runtime,
    options: SchedulerOptions | None = None,
    progress: Callable[[str], None] = print,
    timeout: float = MOVE_TIMEOUT,
) -> MoveReport:
    """Replace every dyno `source` (the Docker runtime on `engine`) runs by one on `target` (the
    swarm `engine` manages), slot by slot, each routed before the one it replaces leaves routing;
    the add-ons on `engine` join each app's network on the swarm."""
    began = time.monotonic()
    report = MoveReport(apps=sorted({d.app for d in _leaving(source)}))
    for app in report.apps:
        overlay = target.ensure_network(app)
        if engine is not None:
            join_addons_to_overlay(engine, app, overlay)
    scheduler = build_scheduler(
        settings.model_copy(update={"wharf_runtime": SWARM}), options, runtime=MovingRuntime(source, target)
    )
    hand_over_runtime(scheduler.fleet.redis, SWARM)
    try:
        left = _pass_until_moved(scheduler, source, progress, deadline=began + timeout)
        scheduler.fleet.wait_for_retirements()
    finally:
        scheduler.wait_for_deploys(timeout=60)
        scheduler.fleet.close()
    if left:
        raise ClusterError(
            f"{left} dynos still run as plain containers after {timeout:.0f} s (see `docker ps`); "
            "run `wharfd cluster init` again to go on moving them"
        )
    report.started = len([d for d in target.list_dynos() if d.app in report.apps and d.running])
    report.seconds = time.monotonic() - began
    return report


def _leaving(source: Runtime) -> list[Dyno]:
    return [d for d in source.list_dynos() if not is_oneoff(d)]


def _pass_until_moved(
    scheduler: Scheduler, source: Runtime, progress: Callable[[str], None], deadline: float
) -> int:
    """Scheduler passes until `source` runs no dyno; the count left when `deadline` passed first."""
    said = -1
    while True:
        left = len(_leaving(source))
        if left != said:
            progress(f"{left} dynos left to move onto the swarm")
            said = left
        if left == 0 or time.monotonic() > deadline:
            return left
        delay = scheduler.reconcile_once()
        scheduler.wait_for_deploys()
        time.sleep(min(delay, PASS_SECONDS))


def join_addons_to_overlay(engine: docker.DockerClient, app: str, overlay: str) -> list[str]:
    """Connect the containers on the app's bridge that are not dynos (its add-ons) to `overlay`,
    under their bridge aliases; the names of those connected."""
    import docker.errors

    if overlay == network_name(app):
        return []
    try:
        bridge = engine.networks.get(network_name(app))
    except docker.errors.NotFound:
        return []
    target = engine.networks.get(overlay)
    joined: list[str] = []
    for container in engine.containers.list(
        ignore_removed=True, filters={"network": bridge.id, "label": f"{LABEL_APP}={app}"}
    ):
        if LABEL_DYNO in container.labels:
            continue
        networks = container.attrs["NetworkSettings"]["Networks"]
        if overlay in networks:
            continue
        aliases = list((networks.get(bridge.name) or {}).get("Aliases") or [])
        with contextlib.suppress(docker.errors.APIError):
            target.connect(container, aliases=[container.name, *aliases])
            joined.append(str(container.name))
    return joined
