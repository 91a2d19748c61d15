"""Dyno specs for releases, and what the labels of a dyno tell about its past.

A replacement dyno carries the restart count of the one it replaces in a label, so the crash
backoff survives a scheduler restart without any state outside the runtime.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping, Sequence

from wharf.platform.runtime.base import LABEL_ATTACHED, Dyno, DynoSpec, DynoState
from wharf.platform.scheduler.desired import ReleaseTarget

LABEL_RESTARTS = "wharf.restarts"
LABEL_ONEOFF = "wharf.oneoff"
LAUNCHER = ("wharf-launch",)
FIRST_BACKOFF_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 300.0
# A dyno that stayed up this long before it crashed starts its backoff from scratch.
STABLE_SECONDS = 60.0


def formation_spec(
    app: str,
    release: ReleaseTarget,
    process_type: str,
    number: int,
    size: str,
    *,
    restarts: int = 0,
    launcher: Sequence[str] = LAUNCHER,
    placement: Mapping[str, str] | None = None,
) -> DynoSpec:
    """A dyno of the formation; `placement` adds placement labels (runtime/placement.py)."""
    return DynoSpec(
        app=app,
        process_type=process_type,
        number=number,
        release=release.version,
        image=release.image,
        command=_command(release.process_types[process_type], launcher),
        env=release.config,
        size=size,
        labels={**(placement or {}), LABEL_RESTARTS: str(restarts)},
    )


def oneoff_spec(
    app: str,
    release: ReleaseTarget,
    command: str,
    *,
    process_type: str = "run",
    size: str = "basic",
    launcher: Sequence[str] = LAUNCHER,
) -> DynoSpec:
    """A one-off dyno (`run.4821`, or `release.1` for the release phase), never part of the formation."""
    number = 1 if process_type == "release" else 1000 + secrets.randbelow(9000)
    return DynoSpec(
        app=app,
        process_type=process_type,
        number=number,
        release=release.version,
        image=release.image,
        command=_command(command, launcher),
        env=release.config,
        size=size,
        labels={LABEL_ONEOFF: "1"},
    )


def _command(text: str, launcher: Sequence[str]) -> str | tuple[str, ...]:
    return (*launcher, text) if launcher else text


def is_oneoff(dyno: Dyno) -> bool:
    return dyno.labels.get(LABEL_ONEOFF) == "1"


def is_finished_detached_oneoff(dyno: Dyno) -> bool:
    """A `wharf run --detach` dyno whose process ended (an attached one ends with its session)."""
    detached = is_oneoff(dyno) and dyno.process_type == "run" and dyno.labels.get(LABEL_ATTACHED) != "1"
    return detached and not dyno.running and dyno.exit_code is not None


def never_started(dyno: Dyno) -> bool:
    """Created but never started: what a scheduler that stopped between the two leaves behind.

    Such a container would hold its slot forever (it counts as starting but never boots), so the
    next pass removes it and starts the slot afresh.
    """
    return dyno.state is DynoState.STARTING and dyno.started_at is None


def restarts_of(dyno: Dyno) -> int:
    try:
        return int(dyno.labels.get(LABEL_RESTARTS, "0"))
    except ValueError:
        return 0


def backoff_seconds(restarts: int) -> float:
    """0 for the first restart, then 1 s, 2 s, 4 s ... up to five minutes."""
    if restarts <= 0:
        return 0.0
    return float(min(FIRST_BACKOFF_SECONDS * 2 ** (restarts - 1), MAX_BACKOFF_SECONDS))


def crash_streak(dyno: Dyno) -> int:
    """Restarts that count towards the backoff: none when the dyno had been up for a while."""
    if dyno.started_at is None or dyno.finished_at is None:
        return restarts_of(dyno)
    uptime = (dyno.finished_at - dyno.started_at).total_seconds()
    return 0 if uptime >= STABLE_SECONDS else restarts_of(dyno)


def restart_due_at(dyno: Dyno) -> float:
    """Unix time at which a crashed dyno may be replaced."""
    finished = dyno.finished_at.timestamp() if dyno.finished_at is not None else time.time()
    return finished + backoff_seconds(crash_streak(dyno))
