"""Images of destroyed apps: removed by a build worker, which owns images, once no container uses them."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

import docker

from wharf.platform.builds.image import image_name, remove_app_images
from wharf.platform.docker_times import created_before
from wharf.platform.runtime.base import LABEL_APP
from wharf.platform.testphase.images import remove_failed_run_images

log = logging.getLogger(__name__)
POLL_SECONDS = 1.0


def app_containers(client: docker.DockerClient, app_name: str, made_before: datetime | None = None) -> int:
    containers = client.containers.list(
        all=True, ignore_removed=True, filters={"label": f"{LABEL_APP}={app_name}"}
    )
    return sum(1 for container in containers if created_before(container.attrs, made_before))


def remove_destroyed_app_images(
    app_name: str, wait_seconds: float = 300.0, destroyed_at: str | None = None
) -> bool:
    """Wait (bounded) for the scheduler to retire the app's dynos, then remove its images.

    DESTROYED_AT (ISO 8601) is when the app was destroyed: containers and images made after it belong
    to a new app that took the name since, and are left alone. True when every image could go; False
    when dynos were still there at the deadline, in which case whatever containers do not use is
    still removed.
    """
    moment = datetime.fromisoformat(destroyed_at) if destroyed_at else datetime.now(UTC)
    client = docker.from_env()
    try:
        deadline = time.monotonic() + wait_seconds
        while (remaining := app_containers(client, app_name, moment)) and time.monotonic() < deadline:
            time.sleep(POLL_SECONDS)
    finally:
        client.close()
    if remaining:
        log.warning("%s still has %d containers; removing the images they do not use", app_name, remaining)
    remove_app_images(app_name, made_before=moment)
    remove_failed_run_images(image_name(app_name), made_before=moment)
    return not remaining
