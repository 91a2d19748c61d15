"""An app's one network on an engine: found by name, created once (a bridge, or a Swarm overlay)."""

from __future__ import annotations

import threading
from typing import Any

import docker
import docker.errors

from wharf.platform.runtime.base import LABEL_APP, LABEL_MANAGED, network_name


class AppNetworks:
    """Finds and creates apps' networks with `driver_options` (networks.create's keyword arguments).

    Docker accepts two networks of one name created at once (check_duplicate is only advisory), and
    then refuses to start containers on either: creations in this process go one at a time.
    """

    def __init__(self, client: docker.DockerClient, **driver_options: Any) -> None:
        self._client = client
        self._options = driver_options
        self._lock = threading.Lock()

    def ensure(self, app: str) -> str:
        name = network_name(app)
        with self._lock:
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
