"""Attached one-offs on a Swarm (`wharf run` without --detach): containers on the manager's engine.

A Swarm service has no standard input and no terminal a client could attach to, so an attached
one-off is not a service: it is a container of the engine the control plane talks to (the manager's),
made exactly as the Docker runtime makes one (its user, no-new-privileges, every capability dropped,
the dyno size's memory, CPU, pids and disk limits, no logging, the labels with LABEL_ATTACHED), on
the app's attachable overlay network, where it reaches the app's add-ons and the dynos of every node
by name. Its STATSD_HOST is the name a service's dyno has, mapped to the manager's `host-gateway`,
where the manager's node agent receives its packets. Detached one-offs stay services, on any node.

Only containers labelled LABEL_ATTACHED are ever seen here, so the manager's Swarm tasks, whose
containers carry dyno labels too, are never mistaken for one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import docker

from wharf.platform.runtime.base import LABEL_ATTACHED, Dyno, DynoNotFound, DynoSpec
from wharf.platform.runtime.docker_attach import DockerAttachedDyno
from wharf.platform.runtime.docker_runtime import DockerRuntime
from wharf.platform.runtime.swarm_specs import STATSD_HOSTNAME


def is_attached(dyno: Dyno) -> bool:
    return dyno.labels.get(LABEL_ATTACHED) == "1"


class AttachedOneOffs:
    """The attached one-offs of one installation on the manager's engine."""

    def __init__(
        self,
        client: docker.DockerClient,
        *,
        installation: str | None = None,
        statsd_port: int | None = None,
    ) -> None:
        # STATSD_HOST as the services' dynos have it: their node's agent, here the manager's.
        self._containers = DockerRuntime(
            client, installation=installation, statsd_port=statsd_port, statsd_hostname=STATSD_HOSTNAME
        )

    def start(self, spec: DynoSpec, network: str, *, tty: bool) -> DockerAttachedDyno:
        """Create and start the one-off on `network` (the app's overlay), attached before it runs."""
        return self._containers.start_attached(dataclasses.replace(spec, network=network), tty=tty)

    def dynos(self, wanted: Mapping[str, str]) -> list[Dyno]:
        """The attached one-offs carrying every label of `wanted` (base.label_filters' query)."""
        return self._containers.list_dynos(labels={**wanted, LABEL_ATTACHED: "1"})

    def get(self, dyno_id: str) -> Dyno:
        dyno = self._containers.get_dyno(dyno_id)
        if not is_attached(dyno):
            raise DynoNotFound(f"{dyno_id} is not an attached one-off")
        return dyno

    def stop(self, dyno_id: str, timeout: float) -> Dyno:
        self.get(dyno_id)
        return self._containers.stop_dyno(dyno_id, timeout)

    def remove(self, dyno_id: str) -> None:
        """Kill and remove the one-off; a no-op when no attached one-off has this id."""
        try:
            self.get(dyno_id)
        except DynoNotFound:
            return
        self._containers.remove_dyno(dyno_id)

    def wait(self, dyno_id: str, timeout: float | None) -> int:
        self.get(dyno_id)
        return self._containers.wait(dyno_id, timeout)

    def remove_all(self) -> list[str]:
        """Every attached one-off of this installation (their sessions ended with the API process)."""
        return self._containers.remove_attached_dynos()
