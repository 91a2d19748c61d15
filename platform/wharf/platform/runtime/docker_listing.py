"""Listing dynos with one Docker call: a container is inspected again only when its state changed.

Docker's list answer carries each container's id and state but not its start and finish times or exit
details, which a dyno needs; inspecting every container on every list made each reconcile pass cost one
API call per dyno. A container's inspected details only change with its state (Wharf's dynos have no
restart policy, so a container that starts again is a new one), so the details are kept per
(id, state) and a steady fleet of any size lists with a single call.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from wharf.platform.runtime.base import Dyno


class InspectedDynos:
    """The dyno last read for each container, with the listed state it was read in."""

    def __init__(self, inspect: Callable[[str], Dyno | None]) -> None:
        self._inspect = inspect
        self._known: dict[str, tuple[str, Dyno]] = {}
        self._lock = threading.Lock()

    def dynos(self, entries: Iterable[Mapping[str, Any]], *, complete: bool) -> list[Dyno]:
        """The dynos of Docker's list `entries`; `complete` says the list held every dyno, so the
        details of containers missing from it are dropped."""
        found: list[Dyno] = []
        listed: set[str] = set()
        for entry in entries:
            container_id, state = str(entry["Id"]), str(entry.get("State", ""))
            listed.add(container_id)
            with self._lock:
                known = self._known.get(container_id)
            if known is not None and known[0] == state:
                found.append(known[1])
                continue
            dyno = self._inspect(container_id)
            if dyno is None:  # removed between the list and the inspect
                self.forget(container_id)
                continue
            with self._lock:
                self._known[container_id] = (state, dyno)
            found.append(dyno)
        if complete:
            with self._lock:
                for gone in set(self._known) - listed:
                    del self._known[gone]
        return found

    def forget(self, container_id: str) -> None:
        with self._lock:
            self._known.pop(container_id, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._known)
