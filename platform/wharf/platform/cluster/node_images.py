"""Images on a node agent's engine: pulled (from Wharf's registry, which the node trusts) only when
the node lacks them."""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)


def ensure_image(docker_client: Any, image: str, purpose: str) -> None:
    """IMAGE on this engine, pulled first if it is not there; PURPOSE says what for, in the log."""
    import docker.errors

    try:
        docker_client.images.get(image)
    except docker.errors.ImageNotFound:
        logger.info("pulling %s for %s", image, purpose)
        docker_client.images.pull(image)
