"""Two runtimes seen as one while an installation moves from one to the other (one host onto a swarm).

Every dyno of both is listed, so nothing is lost or started twice; new dynos start on the target only.
A dyno of the source carries the label `wharf.leaving=1` in what this runtime reports, and the
scheduler treats it as outdated: each slot's successor starts on the target and the source's dyno is
retired only once the successor is ready and routed, as a rolling restart does.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping

from wharf.platform.runtime.base import (
    DEFAULT_STOP_TIMEOUT,
    Dyno,
    DynoEvent,
    DynoNotFound,
    DynoSpec,
    OutputCallback,
    Runtime,
)

LABEL_LEAVING = "wharf.leaving"


def is_leaving(dyno: Dyno) -> bool:
    """The dyno runs on the runtime being left: its slot is to be refilled on the new one."""
    return dyno.labels.get(LABEL_LEAVING) == "1"


def _leaving(dyno: Dyno) -> Dyno:
    return dataclasses.replace(dyno, labels={**dyno.labels, LABEL_LEAVING: "1"})


class MovingRuntime:
    """`source`'s dynos until they are retired, and `target` for everything new."""

    def __init__(self, source: Runtime, target: Runtime) -> None:
        self.source = source
        self.target = target

    def ensure_network(self, app: str) -> str:
        return self.target.ensure_network(app)

    def remove_network(self, app: str) -> None:
        self.target.remove_network(app)
        self.source.remove_network(app)

    def start_dyno(self, spec: DynoSpec) -> Dyno:
        return self.target.start_dyno(spec)

    def get_dyno(self, dyno_id: str) -> Dyno:
        try:
            return self.target.get_dyno(dyno_id)
        except DynoNotFound:
            return _leaving(self.source.get_dyno(dyno_id))

    def list_dynos(
        self,
        app: str | None = None,
        *,
        process_type: str | None = None,
        release: int | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> list[Dyno]:
        leaving = [
            _leaving(d)
            for d in self.source.list_dynos(app, process_type=process_type, release=release, labels=labels)
        ]
        staying = self.target.list_dynos(app, process_type=process_type, release=release, labels=labels)
        return sorted([*leaving, *staying], key=lambda d: (d.app, d.process_type, d.number, d.release, d.id))

    def stop_dyno(self, dyno_id: str, timeout: float = DEFAULT_STOP_TIMEOUT) -> Dyno:
        try:
            return self.target.stop_dyno(dyno_id, timeout)
        except DynoNotFound:
            return _leaving(self.source.stop_dyno(dyno_id, timeout))

    def remove_dyno(self, dyno_id: str) -> None:
        self.target.remove_dyno(dyno_id)
        self.source.remove_dyno(dyno_id)

    def wait(self, dyno_id: str, timeout: float | None = None) -> int:
        try:
            return self.target.wait(dyno_id, timeout)
        except DynoNotFound:
            return self.source.wait(dyno_id, timeout)

    def run_oneoff(
        self, spec: DynoSpec, *, on_output: OutputCallback | None = None, timeout: float | None = None
    ) -> int:
        return self.target.run_oneoff(spec, on_output=on_output, timeout=timeout)

    def events(self, *, since: float | None = None, timeout: float | None = None) -> Iterator[DynoEvent]:
        """The target's events: a source dyno that ends is seen at the next pass."""
        return self.target.events(since=since, timeout=timeout)
