"""Release images in two layers: what the buildpacks made, then the app's own source on top.

A compiled app directory holds the pushed source plus what the buildpacks added (a virtualenv,
node_modules, .profile.d scripts). The release image puts the buildpack output in one layer (the
"dependency image") and the source files in a second one. A later build whose dependencies did not
change reuses the dependency image and only layers the new source on it, as Docker's layer cache
does for a well-written Dockerfile.

Layers are made without `docker build`: a container is created (never started) from the base
image, the layer is copied in as a tar stream, and the container is committed with the image
settings. Every file is owned by the dyno user.
"""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors

from wharf.platform.stack.images import DYNO_UID

APP_ROOT = "/app"
LAYER_LABEL = "io.wharf.layer"
# The command of a release image run by hand (`docker run -it wharf/<app>:vN`): a shell in /app.
# Dynos always name their own command.
DEFAULT_COMMAND = '["/bin/bash"]'


class LayerFailed(Exception):
    """Docker refused to make a layer; the message is Docker's."""


@dataclass(frozen=True)
class AppTree:
    """The paths, relative to /app, of each layer of a compiled app."""

    buildpack_output: list[str]
    source: list[str]


def relative_paths(directory: Path) -> list[str]:
    """Every path under DIRECTORY, relative to it, each folder before what it holds; links not followed."""
    paths = []
    for current, dirs, files in os.walk(directory):
        dirs.sort()
        relative_dir = os.path.relpath(current, directory)
        for name in dirs + sorted(files):
            paths.append(name if relative_dir == "." else f"{relative_dir}/{name}")
    return paths


def split_app_tree(app_dir: Path, source_dir: Path) -> AppTree:
    """Paths the source tree also has go to the source layer; everything else is buildpack output.

    A directory the buildpacks created is listed with all it holds. Each layer also carries the
    folders above its paths (see ``write_layer_tar``), so both keep /app and its folders' owner.
    """
    output: list[str] = []
    source: list[str] = []
    for relative in relative_paths(app_dir):
        (source if os.path.lexists(source_dir / relative) else output).append(relative)
    return AppTree(buildpack_output=output, source=source)


def write_layer_tar(app_dir: Path, paths: list[str], tar_path: Path) -> int:
    """Archive PATHS of APP_DIR as /app/... owned by the dyno user; returns the archive's size."""
    listing = tar_path.with_suffix(".list")
    entries = sorted({"./" + p if p != "." else "." for p in paths} | _parents(paths))
    listing.write_bytes(b"\0".join(os.fsencode(entry) for entry in entries) + b"\0")
    argv = [
        "tar",
        "--create",
        f"--file={tar_path}",
        f"--directory={app_dir}",
        "--no-recursion",
        "--numeric-owner",
        f"--owner=dyno:{DYNO_UID}",
        f"--group=dyno:{DYNO_UID}",
        "--transform=flags=rh;s,^\\.,app,",
        "--null",
        f"--files-from={listing}",
    ]
    subprocess.run(argv, check=True)
    listing.unlink()
    return tar_path.stat().st_size


def _parents(paths: list[str]) -> set[str]:
    """Every directory above PATHS, so each layer carries the owner and mode of /app and its folders."""
    parents = {"."}
    for path in paths:
        parent = os.path.dirname(path)
        while parent:
            parents.add("./" + parent)
            parent = os.path.dirname(parent)
    return parents


def commit_layer(
    client: docker.DockerClient,
    *,
    base: str,
    tar_path: Path,
    repository: str,
    tag: str,
    env: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
) -> str:
    """A new image: BASE plus the files of TAR_PATH, with ENV and LABELS; returns its id."""
    changes = [f"WORKDIR {APP_ROOT}", "USER dyno", f"CMD {DEFAULT_COMMAND}"]
    changes += [f'ENV {name}="{_escape(value)}"' for name, value in sorted((env or {}).items())]
    changes += [f'LABEL {name}="{_escape(value)}"' for name, value in sorted((labels or {}).items())]
    container = None
    try:
        container = client.api.create_container(
            base, command=["/bin/true"], name=f"wharf-layer-{secrets.token_hex(6)}"
        )["Id"]
        with tar_path.open("rb") as archive:
            client.api.put_archive(container, "/", archive)
        return str(client.api.commit(container, repository=repository, tag=tag, changes=changes)["Id"])
    except docker.errors.APIError as exc:
        raise LayerFailed(str(exc.explanation or exc)) from exc
    finally:
        if container is not None:
            client.api.remove_container(container, force=True)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def image_ids(client: docker.DockerClient, *references: str) -> list[str | None]:
    """The id of each image, None for one that does not exist."""
    ids: list[str | None] = []
    for reference in references:
        try:
            ids.append(str(client.api.inspect_image(reference)["Id"]))
        except docker.errors.ImageNotFound:
            ids.append(None)
    return ids


def image_size(client: docker.DockerClient, reference: str) -> int:
    return int(client.api.inspect_image(reference)["Size"])
