"""An app's one network on an engine: found by name, created once (a bridge, or a Swarm overlay)."""

from __future__ import annotations

import threading
from typing import Any

import docker
import docker.errors

from wharf.platform.runtime.base import LABEL_APP, LABEL_MANAGED, network_name

# The Swarm overlay's name when the engine already has the app's bridge (a host moved onto a swarm):
# a bridge and an overlay of one name would make every lookup by name ambiguous.
OVERLAY_PREFIX = "wharf-swarm-"


class AppNetworks:
    """Finds and creates apps' networks with `driver_options` (networks.create's keyword arguments).

    Docker accepts two networks of one name created at once (check_duplicate is only advisory), and
    then refuses to start containers on either: creations in this process go one at a time. When
    `other_driver_prefix` is given and the app's usual name is held by a network of another driver,
    the app's network is `other_driver_prefix + app` instead.
    """

    def __init__(
        self, client: docker.DockerClient, *, other_driver_prefix: str | None = None, **driver_options: Any
    ) -> None:
        self._client = client
        self._options = driver_options
        self._other_driver_prefix = other_driver_prefix
        self._lock = threading.Lock()

    def name_for(self, app: str) -> str:
        """The name of the app's network of this driver (which may not exist yet)."""
        name = network_name(app)
        if self._other_driver_prefix is None:
            return name
        found = self.find(name)
        driver = self._options.get("driver")
        # A Swarm overlay reads with no driver at all until the swarm's allocator has taken it up.
        found_driver = found.attrs.get("Driver") if found is not None else None
        if driver is not None and found_driver and found_driver != driver:
            return f"{self._other_driver_prefix}{app}"
        return name

    def ensure(self, app: str) -> str:
        with self._lock:
            name = self.name_for(app)
            if self.find(name) is None:
                try:
                    self._client.networks.create(
                        name,
                        check_duplicate=True,
                        labels={LABEL_APP: app, LABEL_MANAGED: "1"},
                        **self._options,
                    )
                except docker.errors.APIError as error:
                    if error.status_code != 409:
                        raise
        return name

    def find(self, name: str) -> Any:
        try:
            return self._client.networks.get(name)
        except docker.errors.NotFound:
            return None
