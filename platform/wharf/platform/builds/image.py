"""Release images `wharf/<app>:v<N>` built from the app's own Dockerfile, and their collection.

Buildpack releases are layered by ``release_image``.
"""

from __future__ import annotations

import json
import shutil
import socket
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import docker
import docker.errors
import docker.utils

from wharf.platform.builds.build_cgroup import build_pids_cgroup
from wharf.platform.builds.dockerfile_policy import (
    DOCKERFILE_MAX_BYTES,
    BasePolicy,
    DockerfileRefused,
    check_dockerfile,
    check_image_user,
    check_stage_users,
)
from wharf.platform.builds.layers import LAYER_LABEL
from wharf.platform.builds.tenant_files import read_tenant_text
from wharf.platform.docker_times import created_before

OutputCallback = Callable[[str], None]
LABEL_PREFIX = "io.wharf"
DOCKERFILE_LAUNCHER = Path(__file__).with_name("dockerfile-launch.sh")
CPU_PERIOD = 100_000


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


@dataclass(frozen=True)
class DockerfileBuild:
    """One `docker build` of an app's Dockerfile, within the limits buildpack builders get."""

    source_dir: Path
    tag: str
    labels: Mapping[str, str]
    policy: BasePolicy
    memory_bytes: int
    nano_cpus: int
    pids: int
    timeout_seconds: float
    network: str


def build_dockerfile_image(build: DockerfileBuild, on_output: OutputCallback) -> tuple[int, list[str] | None]:
    """Build the app's own Dockerfile on an allowed base, never as root.

    Returns the image size and the image's command, used as the default web process.
    """
    text = read_tenant_text(build.source_dir, "Dockerfile", max_bytes=DOCKERFILE_MAX_BYTES)
    checked = check_dockerfile(text or "", build.policy)
    client = docker.from_env()
    try:
        check_stage_users(client, checked)
        _run_docker_build(client, build, on_output)
        try:
            check_image_user(client, build.tag)
        except DockerfileRefused:
            client.images.remove(build.tag, force=True)
            raise
        config = client.images.get(build.tag).attrs.get("Config") or {}
        command = (config.get("Entrypoint") or []) + (config.get("Cmd") or [])
        _add_launcher(client, build.tag)
        return int(client.images.get(build.tag).attrs["Size"]), command or None
    finally:
        client.close()


def _build_context(source_dir: Path) -> Any:
    """The build context as docker-py makes it, with .dockerignore read without following a link."""
    ignore = read_tenant_text(source_dir, ".dockerignore", max_bytes=DOCKERFILE_MAX_BYTES) or ""
    exclude = [line.strip() for line in ignore.splitlines() if line.strip() and not line.startswith("#")]
    return docker.utils.tar(str(source_dir), exclude=exclude or None, dockerfile=(None, None))


def _hang_up(api: Any, response: Any) -> None:
    """End the build's HTTP stream from another thread: shutting the socket down wakes the reader."""
    try:
        sock = api._get_raw_response_socket(response)
        getattr(sock, "_sock", sock).shutdown(socket.SHUT_RDWR)
    except (OSError, AttributeError):
        pass
    response.close()


def _run_docker_build(client: docker.DockerClient, build: DockerfileBuild, on_output: OutputCallback) -> None:
    """POST /build with the limits docker-py's `build` does not expose (CPU quota, process count).

    Over the time limit the request is closed, which makes the Engine cancel the build and remove its
    intermediate container.
    """
    params: dict[str, Any] = {
        "t": build.tag,
        "rm": True,
        "forcerm": True,
        "pull": False,
        "labels": json.dumps(dict(build.labels)),
        "memory": build.memory_bytes,
        "memswap": build.memory_bytes,
        "cpuperiod": CPU_PERIOD,
        "cpuquota": build.nano_cpus * CPU_PERIOD // 1_000_000_000,
        "networkmode": build.network,
    }
    with build_pids_cgroup(client, build.pids) as cgroup_parent:
        if cgroup_parent is not None:
            params["cgroupparent"] = cgroup_parent
        else:
            params["ulimits"] = json.dumps([{"Name": "nproc", "Soft": build.pids, "Hard": build.pids}])
        _post_build(client, build, params, on_output)


def _post_build(
    client: docker.DockerClient, build: DockerfileBuild, params: dict[str, Any], on_output: OutputCallback
) -> None:
    api = client.api
    context = _build_context(build.source_dir)
    timed_out = threading.Event()
    try:
        response = api._post(  # docker-py's build() does not pass cpuquota or ulimits
            api._url("/build"),
            data=context,
            params=params,
            headers={"Content-Type": "application/tar"},
            stream=True,
            timeout=None,
        )
        api._raise_for_status(response)

        def stop_hung_build() -> None:
            timed_out.set()
            _hang_up(api, response)

        timer = threading.Timer(build.timeout_seconds, stop_hung_build)
        timer.start()
        try:
            _stream_lines(api._stream_helper(response, decode=True), on_output)
        except Exception:
            if not timed_out.is_set():
                raise
        finally:
            timer.cancel()
    finally:
        context.close()
    if timed_out.is_set():
        raise ImageBuildFailed(f"The build took longer than {build.timeout_seconds:.0f} s and was stopped.")


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


def collect_old_images(
    *, app_name: str, keep_versions: set[int], made_before: datetime | None = None
) -> list[str]:
    """Remove the app's release images except KEEP_VERSIONS; returns the tags removed.

    Dependency images that no release and no tag uses any more go too. With MADE_BEFORE, only images
    created before that moment are touched: a destroyed app's leftovers, not those of a new app that
    took its name since.
    """
    client = docker.from_env()
    removed = []
    try:
        for image in client.images.list(name=image_name(app_name)):
            if not created_before(image.attrs, made_before):
                continue
            # A promoted image also carries the tags of the other apps it was promoted to or from.
            for tag in (t for t in image.tags if t.startswith(f"{image_name(app_name)}:v")):
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
            if not created_before(image.attrs, made_before):
                continue
            try:
                client.images.remove(image.id, noprune=False)
            except docker.errors.APIError:
                continue  # a kept release is built on it
    finally:
        client.close()
    return removed


def remove_app_images(app_name: str, *, made_before: datetime | None = None) -> None:
    collect_old_images(app_name=app_name, keep_versions=set(), made_before=made_before)
    client = docker.from_env()
    try:
        dependencies = client.images.get(f"{image_name(app_name)}:dependencies")
        if created_before(dependencies.attrs, made_before):
            client.images.remove(f"{image_name(app_name)}:dependencies")
    except docker.errors.APIError:
        pass  # none, or still used
    finally:
        client.close()
