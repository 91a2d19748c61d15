"""Add-on images: the stack run image plus Debian's own server packages, since no registry is reachable.

Debian 13 (trixie) ships PostgreSQL 17, Redis 8.0 and memcached 1.6, so the tags follow those
versions. Each image is built once, on the first provision of its kind, and shares the stack's
bottom layer.
"""

from __future__ import annotations

import fcntl
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.errors

from wharf.platform.addons.base import AddonError, Progress, ignore_progress

DEFAULT_RUN_IMAGE = "wharf/stack-run:trixie"
ADDON_IMAGE_LABEL = "io.wharf.addon"
ADDON_HOME = "/var/lib/wharf-addon"


@dataclass(frozen=True)
class ImageRecipe:
    kind: str
    image: str
    packages: tuple[str, ...]
    user: str
    entrypoint: Path


HERE = Path(__file__).parent
RECIPES: dict[str, ImageRecipe] = {
    recipe.kind: recipe
    for recipe in (
        ImageRecipe(
            "postgres",
            "wharf/addon-postgres:17",
            ("postgresql-17",),
            "postgres",
            HERE / "postgres-entrypoint.sh",
        ),
        ImageRecipe("redis", "wharf/addon-redis:8", ("redis-server",), "redis", HERE / "redis-entrypoint.sh"),
        ImageRecipe(
            "memcached",
            "wharf/addon-memcached:1.6",
            ("memcached",),
            "memcache",
            HERE / "memcached-entrypoint.sh",
        ),
    )
}

DOCKERFILE = """\
FROM {run_image}
USER root
RUN install -d /etc/postgresql-common/createcluster.d \\
 && echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.d/wharf.conf \\
 && apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends {packages} \\
 && rm -rf /var/lib/apt/lists/* \\
 && install -d -o {user} -g {user} -m 0700 {home}
COPY entrypoint.sh /usr/local/bin/wharf-addon
RUN chmod 0755 /usr/local/bin/wharf-addon
ENV HOME={home}
WORKDIR {home}
LABEL {label}={kind}
USER {user}
ENTRYPOINT ["/usr/local/bin/wharf-addon"]
"""


def recipe_for(kind: str) -> ImageRecipe:
    try:
        return RECIPES[kind]
    except KeyError:
        raise AddonError(f"no add-on image for kind {kind!r}") from None


def image_exists(client: Any, name: str) -> bool:
    try:
        client.images.get(name)
    except docker.errors.ImageNotFound:
        return False
    return True


def _build_lines(stream: Iterator[dict[str, Any]]) -> Iterator[str]:
    for chunk in stream:
        if "error" in chunk:
            raise AddonError(f"add-on image build failed: {str(chunk['error']).strip()}")
        for line in str(chunk.get("stream", "")).splitlines():
            if line.strip():
                yield line


def build_addon_image(
    client: Any,
    recipe: ImageRecipe,
    *,
    run_image: str = DEFAULT_RUN_IMAGE,
    progress: Progress = ignore_progress,
) -> None:
    """`docker build` the recipe's image on the stack run image (which must exist locally)."""
    if not image_exists(client, run_image):
        raise AddonError(
            f"the stack run image {run_image} is missing: build it with `wharfd stack build` first"
        )
    progress(f"-----> Building {recipe.image} on {run_image} (first use)")
    with tempfile.TemporaryDirectory(prefix="wharf-addon-image-") as tmp:
        context = Path(tmp)
        shutil.copyfile(recipe.entrypoint, context / "entrypoint.sh")
        (context / "Dockerfile").write_text(
            DOCKERFILE.format(
                run_image=run_image,
                packages=" ".join(recipe.packages),
                user=recipe.user,
                home=ADDON_HOME,
                label=ADDON_IMAGE_LABEL,
                kind=recipe.kind,
            )
        )
        stream = client.api.build(path=str(context), tag=recipe.image, rm=True, forcerm=True, decode=True)
        for line in _build_lines(stream):
            progress("       " + line)
    progress(f"-----> {recipe.image} ready")


def ensure_addon_image(
    client: Any,
    kind: str,
    *,
    lock_dir: Path,
    run_image: str = DEFAULT_RUN_IMAGE,
    progress: Progress = ignore_progress,
) -> str:
    """The kind's image name, building it first if missing; one build at a time per host."""
    recipe = recipe_for(kind)
    if image_exists(client, recipe.image):
        return recipe.image
    lock_dir.mkdir(parents=True, exist_ok=True)
    with (lock_dir / f"image-{kind}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not image_exists(client, recipe.image):
            build_addon_image(client, recipe, run_image=run_image, progress=progress)
    return recipe.image
