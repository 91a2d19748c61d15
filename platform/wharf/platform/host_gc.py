"""`wharfd gc`: disk space back from what Wharf left behind, by age and count.

Only what this installation made and labelled is ever collected: build directories in its data dir,
release images (`wharf/<app>:v<N>`) of its own apps beyond the releases kept (WHARF_KEEP_RELEASES and
the current one), dangling images labelled with one of its apps, and stopped containers labelled with
its installation id. Nothing younger than the age threshold goes, except release images beyond the count.
An image or container still in use is skipped (Docker refuses), never forced.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import docker
from sqlalchemy import select

from wharf.platform.builds.image import LABEL_PREFIX, image_name
from wharf.platform.db import session_scope
from wharf.platform.docker_times import parse_docker_time
from wharf.platform.models import App, Build, Release
from wharf.platform.runtime.base import LABEL_INSTALLATION, LABEL_MANAGED

if TYPE_CHECKING:
    from wharf.platform.settings import Settings

ACTIVE_BUILD_STATUSES = ("pending", "building")
STOPPED_STATES = ("exited", "created", "dead")


@dataclass
class Collected:
    kind: str  # "build-dir", "image" or "container"
    name: str
    bytes: int
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "bytes": self.bytes, "reason": self.reason}


@dataclass
class GcReport:
    dry_run: bool
    removed: list[Collected] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def freed_bytes(self) -> int:
        return sum(item.bytes for item in self.removed)

    def to_json(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "freed_bytes": self.freed_bytes,
            "removed": [item.to_json() for item in self.removed],
            "skipped": self.skipped,
        }


def tree_bytes(path: Path) -> int:
    """Bytes of the regular files under PATH, without following links."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                stat = os.lstat(os.path.join(root, name))
            except OSError:
                continue
            total += stat.st_size
    return total


@dataclass
class _Plan:
    settings: Settings
    dry_run: bool
    cutoff: float
    report: GcReport

    def take(self, item: Collected, remove: Callable[[], object]) -> None:
        if not self.dry_run:
            try:
                remove()
            except (OSError, docker.errors.APIError) as error:
                self.report.skipped.append(f"{item.kind} {item.name}: {error}")
                return
        self.report.removed.append(item)


def collect_garbage(settings: Settings, *, dry_run: bool, age_hours: float | None = None) -> GcReport:
    """Remove (or, with `dry_run`, list) what Wharf no longer needs; the report says what and how much."""
    hours = settings.wharf_gc_age_hours if age_hours is None else age_hours
    plan = _Plan(settings, dry_run, time.time() - hours * 3600, GcReport(dry_run=dry_run))
    keep, active_builds = _kept_images_and_active_builds(settings)
    _collect_build_dirs(plan, active_builds)
    client = docker.from_env()
    try:
        usage = client.df()
        sizes = _unique_image_sizes(usage)
        _collect_containers(plan, client, usage)
        _collect_release_images(plan, client, keep, sizes)
        _collect_dangling_images(plan, client, set(keep), sizes)
        if settings.wharf_registry:
            _collect_registry_images(plan, client, settings, keep)
    finally:
        client.close()
    return plan.report


def _kept_images_and_active_builds(settings: Settings) -> tuple[dict[str, set[str]], set[int]]:
    """Per app of this installation, the image tags of its kept releases; and the builds under way."""
    keep: dict[str, set[str]] = {}
    with session_scope(settings.resolved_database_url) as session:
        for app in session.scalars(select(App)):
            recent = session.scalars(
                select(Release.image)
                .where(Release.app_id == app.id)
                .order_by(Release.version.desc())
                .limit(settings.wharf_keep_releases)
            )
            tags = {image for image in recent if image}
            if app.current_release_version is not None:
                current = session.scalar(
                    select(Release.image).where(
                        Release.app_id == app.id, Release.version == app.current_release_version
                    )
                )
                if current:
                    tags.add(current)
            keep[app.name] = tags
        active = set(session.scalars(select(Build.id).where(Build.status.in_(ACTIVE_BUILD_STATUSES))))
    return keep, active


def _collect_build_dirs(plan: _Plan, active_builds: set[int]) -> None:
    folder = plan.settings.wharf_data_dir / "builds"
    if not folder.is_dir():
        return
    for entry in sorted(folder.iterdir()):
        if entry.is_symlink() or not entry.is_dir() or not entry.name.isdigit():
            continue
        if int(entry.name) in active_builds or entry.lstat().st_mtime > plan.cutoff:
            continue
        item = Collected("build-dir", str(entry), tree_bytes(entry), "left by a build that ended")
        plan.take(item, partial(shutil.rmtree, entry))


def _unique_image_sizes(usage: dict[str, Any]) -> dict[str, int]:
    """Per image id, the bytes only it holds (what removing it frees), from Docker's disk usage."""
    images: Iterable[dict[str, Any]] = usage.get("Images") or []
    return {
        str(image["Id"]): max(int(image.get("Size", 0)) - max(int(image.get("SharedSize", 0)), 0), 0)
        for image in images
    }


def _collect_containers(plan: _Plan, client: docker.DockerClient, usage: dict[str, Any]) -> None:
    written = {str(c["Id"]): int(c.get("SizeRw") or 0) for c in usage.get("Containers") or []}
    labels = [f"{LABEL_MANAGED}=1", f"{LABEL_INSTALLATION}={plan.settings.installation_id}"]
    for state in STOPPED_STATES:
        for container in client.containers.list(
            all=True, ignore_removed=True, filters={"status": state, "label": labels}
        ):
            attrs = client.api.inspect_container(container.id)
            ended = _timestamp(attrs["State"].get("FinishedAt")) or _timestamp(attrs.get("Created"))
            if ended is None or ended > plan.cutoff:
                continue
            size = written.get(container.id, 0)
            item = Collected("container", container.name or container.id, size, f"stopped ({state})")
            plan.take(item, partial(container.remove, v=False))


def _collect_release_images(
    plan: _Plan, client: docker.DockerClient, keep: dict[str, set[str]], sizes: dict[str, int]
) -> None:
    for app_name, kept in keep.items():
        for image in client.images.list(name=image_name(app_name)):
            for tag in image.tags:
                if not _beyond_kept(tag, kept):
                    continue
                only_tag = len(image.tags) == 1
                item = Collected(
                    "image", tag, sizes.get(image.id, 0) if only_tag else 0, "release beyond those kept"
                )
                plan.take(item, partial(client.images.remove, tag, noprune=False))


def _beyond_kept(tag: str, kept: set[str]) -> bool:
    """A release image tag (`wharf/app:vN`) of a release no longer kept. A version newer than every
    kept one is a build finishing now: its release is on the way."""
    version = tag.rsplit(":v", 1)[-1]
    newest = max((_tag_version(kept_tag) for kept_tag in kept), default=0)
    return version.isdigit() and tag not in kept and int(version) <= newest


def _collect_registry_images(
    plan: _Plan, client: docker.DockerClient, settings: Settings, keep: dict[str, set[str]]
) -> None:
    """The registry's copies of releases no longer kept (their manifests deleted), then the registry's
    own garbage-collect for the blobs no manifest names; the registry runs on this host (the manager)."""
    from wharf.platform.registry.api import RegistryApi, RegistryError
    from wharf.platform.registry.release_images import collect_release_images, doomed_release_tags
    from wharf.platform.registry.server import collect_garbage as collect_registry_blobs
    from wharf.platform.security.authority import root_pem

    assert settings.wharf_registry
    api = RegistryApi(settings.wharf_registry, root_pem(settings.wharf_data_dir).encode())
    try:
        for app_name, kept in keep.items():
            repository = image_name(app_name)

            def is_old(tag: str, kept: set[str] = kept, repository: str = repository) -> bool:
                return _beyond_kept(f"{repository}:{tag}", kept)

            if plan.dry_run:
                doomed = doomed_release_tags(api, repository, is_old)
            else:
                doomed = collect_release_images(api, repository, is_old)
            for tag in doomed:
                plan.report.removed.append(
                    Collected(
                        "registry-image",
                        f"{settings.wharf_registry}/{repository}:{tag}",
                        0,
                        "release beyond those kept",
                    )
                )
        if not plan.dry_run:
            collect_registry_blobs(client)
    except (RegistryError, RuntimeError, docker.errors.DockerException) as error:
        plan.report.skipped.append(f"registry {settings.wharf_registry}: {error}")


def _tag_version(tag: str) -> int:
    version = tag.rsplit(":v", 1)[-1]
    return int(version) if version.isdigit() else 0


def _collect_dangling_images(
    plan: _Plan, client: docker.DockerClient, apps: set[str], sizes: dict[str, int]
) -> None:
    for image in client.images.list(filters={"dangling": True, "label": f"{LABEL_PREFIX}.app"}):
        app_name = image.labels.get(f"{LABEL_PREFIX}.app")
        created = _timestamp(image.attrs.get("Created"))
        if app_name not in apps or created is None or created > plan.cutoff:
            continue
        item = Collected("image", image.short_id, sizes.get(image.id, 0), f"dangling, of {app_name}")
        plan.take(item, partial(client.images.remove, image.id, noprune=False))


def _timestamp(value: object) -> float | None:
    """Seconds since the epoch of a Docker time; None for its zero time."""
    moment = parse_docker_time(value)
    return None if moment is None else moment.timestamp()


def human_bytes(count: int) -> str:
    size = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TB"


def run_gc_schedule(settings: Settings, stop: threading.Event) -> None:
    """The services task: `wharfd gc` every WHARF_GC_INTERVAL_HOURS until `stop`."""
    log = logging.getLogger(__name__)
    interval = settings.wharf_gc_interval_hours * 3600
    if interval <= 0:
        stop.wait()
        return
    while not stop.wait(interval):
        try:
            report = collect_garbage(settings, dry_run=False)
        except Exception:
            log.exception("gc failed; trying again at the next interval")
            continue
        log.info("gc: removed %d objects, freed %s", len(report.removed), human_bytes(report.freed_bytes))
