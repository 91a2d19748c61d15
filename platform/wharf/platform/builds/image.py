"""Release images `wharf/<app>:v<N>` built from the app's own Dockerfile, and their collection.

Buildpack releases are layered by ``release_image``.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import docker
import docker.errors

from wharf.platform.builds.layers import LAYER_LABEL

OutputCallback = Callable[[str], None]
LABEL_PREFIX = "io.wharf"
DOCKERFILE_LAUNCHER = Path(__file__).with_name("dockerfile-launch.sh")


class ImageBuildFailed(Exception):
    """`docker build` failed; the message is the builder's own."""


def image_name(app_name: str) -> str:
    return f"wharf/{app_name}"


def release_labels(*, app_name: str, version: int, commit: str) -> dict[str, str]:
    return {
        f"{LABEL_PREFIX}.app": app_name,
        f"{LABEL_PREFIX}.release": str(version),
        f"{LABEL_PREFIX}.commit": commit,
    }


def _stream_lines(stream: Iterator[dict[str, Any]], on_output: OutputCallback) -> None:
    for chunk in stream:
        if "error" in chunk:
            raise ImageBuildFailed(str(chunk["error"]).strip())
        text = str(chunk.get("stream", ""))
        for line in text.splitlines():
            if line.strip():
                on_output(f"       {line.rstrip()}")


def build_dockerfile_image(
    *, source_dir: Path, tag: str, labels: Mapping[str, str], memory_bytes: int, on_output: OutputCallback
) -> tuple[int, list[str] | None]:
    """Build the app's own Dockerfile (the stack images are there to use as bases).

    Returns the image size and the image's command, used as the default web process.
    """
    client = docker.from_env()
    try:
        stream = client.api.build(
            path=str(source_dir),
            tag=tag,
            rm=True,
            forcerm=True,
            decode=True,
            labels=dict(labels),
            container_limits={"memory": memory_bytes, "memswap": memory_bytes},
        )
        _stream_lines(stream, on_output)
        config = client.images.get(tag).attrs.get("Config") or {}
        command = (config.get("Entrypoint") or []) + (config.get("Cmd") or [])
        _add_launcher(client, tag)
        return int(client.images.get(tag).attrs["Size"]), command or None
    finally:
        client.close()


def _add_launcher(client: docker.DockerClient, tag: str) -> None:
    """Layer Wharf's launcher onto the app's image, so its processes start like any other release's.

    COPY needs nothing from the image; the launcher itself needs only /bin/sh.
    """
    with tempfile.TemporaryDirectory(prefix="wharf-launcher-") as context:
        shutil.copy(DOCKERFILE_LAUNCHER, Path(context) / "wharf-launch")
        (Path(context) / "wharf-launch").chmod(0o755)
        (Path(context) / "Dockerfile").write_text(
            f"FROM {tag}\nCOPY wharf-launch /usr/local/bin/wharf-launch\n"
        )
        for chunk in client.api.build(path=context, tag=tag, rm=True, forcerm=True, decode=True):
            if "error" in chunk:
                raise ImageBuildFailed(str(chunk["error"]).strip())


def collect_old_images(*, app_name: str, keep_versions: set[int]) -> list[str]:
    """Remove the app's release images except KEEP_VERSIONS; returns the tags removed.

    Dependency images that no release and no tag uses any more go too.
    """
    client = docker.from_env()
    removed = []
    try:
        for image in client.images.list(name=image_name(app_name)):
            for tag in image.tags:
                version = tag.rsplit(":v", 1)[-1]
                if version.isdigit() and int(version) not in keep_versions:
                    try:
                        client.images.remove(tag, noprune=False)
                        removed.append(tag)
                    except docker.errors.APIError:
                        continue  # still used by a container: kept until the next collection
        labels = [f"{LABEL_PREFIX}.app={app_name}", f"{LAYER_LABEL}=dependencies"]
        unused = client.images.list(filters={"dangling": True, "label": labels})
        for image in unused:
            try:
                client.images.remove(image.id, noprune=False)
            except docker.errors.APIError:
                continue  # a kept release is built on it
    finally:
        client.close()
    return removed


def remove_app_images(app_name: str) -> None:
    collect_old_images(app_name=app_name, keep_versions=set())
    client = docker.from_env()
    try:
        client.images.remove(f"{image_name(app_name)}:dependencies")
    except docker.errors.APIError:
        pass  # none, or still used
    finally:
        client.close()
