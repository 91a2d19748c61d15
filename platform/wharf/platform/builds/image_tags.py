"""Giving an app's release image name to an image another app built, for promotion: a tag, no copy."""

from __future__ import annotations

from collections.abc import Callable

import docker
import docker.errors

from wharf.platform.errors import Conflict
from wharf.platform.implementations import choose
from wharf.platform.settings import Settings

# (source image, target repository, target tag) -> the Docker image id both names now point at
# ("" when the runtime keeps no images).
ImageTagger = Callable[[str, str, str], str]


def docker_tag_image(source: str, repository: str, tag: str) -> str:
    client = docker.from_env()
    try:
        try:
            image = client.images.get(source)
        except docker.errors.ImageNotFound:
            raise Conflict(
                f"The image {source} is no longer on this host. Push the upstream app again, then promote.",
                error_id="image_missing",
            ) from None
        image.tag(repository, tag=tag)
        return str(image.id)
    finally:
        client.close()


def docker_image_tagger() -> ImageTagger:
    return docker_tag_image


def fake_tag_image(source: str, repository: str, tag: str) -> str:
    """The fake runtime keeps no images, so there is no id to report."""
    return ""


def fake_image_tagger() -> ImageTagger:
    return fake_tag_image


def image_tagger_for(settings: Settings) -> ImageTagger:
    """The tagger of the configured runtime."""
    tagger: ImageTagger = choose("image_tagger", settings.wharf_runtime)()  # type: ignore[assignment]
    return tagger
