"""The image of a failed test run, kept under `wharf/<app>:ci<N>` so that `wharf ci:rerun` can run it.

Only the latest failed run's image is kept per app: a new one replaces the one before.
"""

from __future__ import annotations

import contextlib
from datetime import datetime

import docker
import docker.errors

from wharf.platform.docker_times import created_before

CI_TAG_PREFIX = "ci"


def keep_failed_run_image(*, built_tag: str, repository: str, number: int) -> str:
    """Retag the built image for the run and drop the build tag and older failed runs' images."""
    kept = f"{repository}:{CI_TAG_PREFIX}{number}"
    client = docker.from_env()
    try:
        client.images.get(built_tag).tag(repository, tag=f"{CI_TAG_PREFIX}{number}")
        client.images.remove(built_tag)
        for image in client.images.list(name=repository):
            for tag in image.tags:
                if tag != kept and _is_ci_tag(tag, repository):
                    with contextlib.suppress(docker.errors.APIError):
                        client.images.remove(tag, noprune=False)
    finally:
        client.close()
    return kept


def remove_failed_run_images(repository: str, *, made_before: datetime | None = None) -> None:
    """Remove every kept failed-run image of an app (when the app is destroyed), made before MADE_BEFORE."""
    client = docker.from_env()
    try:
        for image in client.images.list(name=repository):
            if not created_before(image.attrs, made_before):
                continue
            for tag in image.tags:
                if _is_ci_tag(tag, repository):
                    with contextlib.suppress(docker.errors.APIError):
                        client.images.remove(tag, noprune=False)
    finally:
        client.close()


def _is_ci_tag(tag: str, repository: str) -> bool:
    name, _, version = tag.rpartition(":")
    return name == repository and version.startswith(CI_TAG_PREFIX) and version[2:].isdigit()
