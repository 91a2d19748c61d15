"""`wharfd gc` on real Docker: what this installation made and no longer needs goes (old release images,
dangling images of its apps, stopped dynos, leftover build directories), by count and age, with the
space freed printed; an operator's own images and containers, and another installation's, stay."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import docker
import pytest

from tests.utils.busybox_dynos import build_test_image, busybox_rootfs_tar, find_static_busybox
from wharf.platform.db import session_scope
from wharf.platform.migrate import upgrade_database
from wharf.platform.models import App, Build, Release, User
from wharf.platform.settings import Settings

pytestmark = pytest.mark.e2e

WHARFD = [sys.executable, "-m", "wharf.platform.wharfd"]


@dataclass
class Leftovers:
    data_dir: Path
    env: dict[str, str]
    app: str
    release_images: dict[int, str] = field(default_factory=dict)
    images: dict[str, str] = field(default_factory=dict)  # role: image id
    containers: dict[str, str] = field(default_factory=dict)  # role: container name
    build_dirs: dict[str, Path] = field(default_factory=dict)

    def gc(self, *args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [*WHARFD, "gc", *args], env=self.env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done


def _image(client: docker.DockerClient, labels: dict[str, str], tag: str | None = None) -> str:
    changes = ["ENV PATH=/bin", *(f'LABEL {k}="{v}"' for k, v in labels.items())]
    repository, _, version = (tag or "").partition(":")
    answer = client.api.import_image_from_data(
        busybox_rootfs_tar(find_static_busybox()),
        repository=repository or None,
        tag=version or None,
        changes=changes,
    )
    image_id = json.loads(answer.strip().splitlines()[-1])["status"]
    return str(image_id)


def _stopped_container(client: docker.DockerClient, labels: dict[str, str]) -> str:
    name = f"wharf-gc-test-{secrets.token_hex(4)}"
    container = client.containers.run(
        build_test_image(client), ["true"], name=name, labels=labels, detach=True
    )
    container.wait(timeout=30)
    return name


@pytest.fixture
def leftovers(tmp_path: Path) -> Iterator[Leftovers]:
    data_dir = tmp_path / "data"
    database_url = f"sqlite:///{data_dir / 'wharf.db'}"
    upgrade_database(database_url)
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL", "WHARF_SECRET_KEY")}
    env.update(WHARF_DATA_DIR=str(data_dir), WHARF_KEEP_RELEASES="2")
    app = f"gc-{secrets.token_hex(4)}"
    made = Leftovers(data_dir=data_dir, env=env, app=app)
    client = docker.from_env()
    installation = Settings(wharf_data_dir=data_dir).installation_id
    try:
        for version in (1, 2, 3, 4):
            tag = f"wharf/{app}:v{version}"
            _image(client, {"io.wharf.app": app, "io.wharf.release": str(version)}, tag)
            made.release_images[version] = tag
        # Tagged by a build whose release is not recorded yet.
        made.images["build finishing"] = _image(client, {"io.wharf.app": app}, f"wharf/{app}:v5")
        made.images["dangling"] = _image(client, {"io.wharf.app": app, "io.wharf.layer": "release"})
        made.images["another app's dangling"] = _image(client, {"io.wharf.app": f"{app}-not-here"})
        made.images["operator's dangling"] = _image(client, {"team": "ops"})
        made.images["operator's tagged"] = _image(client, {}, f"operator-{app}:keep")
        own = {"wharf.managed": "1", "wharf.installation": installation, "wharf.app": app}
        made.containers["stopped dyno"] = _stopped_container(client, own)
        made.containers["another installation's"] = _stopped_container(
            client, {**own, "wharf.installation": "someone-else"}
        )
        made.containers["operator's"] = _stopped_container(client, {"team": "ops"})
        with session_scope(database_url) as session:
            owner = User(email=f"{app}@example.com", password_hash="x")
            session.add(owner)
            session.flush()
            record = App(name=app, owner_id=owner.id, current_release_version=2, release_counter=4)
            session.add(record)
            session.flush()
            for version, tag in made.release_images.items():
                session.add(
                    Release(
                        app_id=record.id, version=version, description="", image=tag, config_ciphertext=b""
                    )
                )
            building = Build(app_id=record.id, status="building", commit="0" * 40)
            session.add(building)
            session.flush()
            building_id = building.id
        for role, name in (("left behind", "987654"), ("building", str(building_id))):
            folder = data_dir / "builds" / name
            folder.mkdir(parents=True)
            (folder / "slug.tgz").write_bytes(os.urandom(1024 * 1024))
            made.build_dirs[role] = folder
        yield made
    finally:
        for name in made.containers.values():
            with contextlib.suppress(docker.errors.NotFound):
                client.containers.get(name).remove(force=True)
        for reference in [*made.release_images.values(), *made.images.values()]:
            with contextlib.suppress(docker.errors.ImageNotFound):
                client.images.remove(reference, force=True)
        client.close()


def _exists(client: docker.DockerClient, kind: str, reference: str) -> bool:
    try:
        (client.images if kind == "image" else client.containers).get(reference)
    except docker.errors.NotFound:
        return False
    return True


def test_gc_removes_only_what_wharf_no_longer_needs(leftovers: Leftovers) -> None:
    client = docker.from_env()
    try:
        dry = json.loads(leftovers.gc("--dry-run", "--json", "--older-than", "0").stdout)
        assert dry["dry_run"] is True
        names = {(item["kind"], item["name"]) for item in dry["removed"]}
        assert ("image", leftovers.release_images[1]) in names
        assert ("container", leftovers.containers["stopped dyno"]) in names
        assert ("build-dir", str(leftovers.build_dirs["left behind"])) in names
        assert len(names) == 4, f"only the old release, the dangling image, the dyno and the dir: {names}"
        assert dry["freed_bytes"] >= 1024 * 1024
        assert all(_exists(client, "image", tag) for tag in leftovers.release_images.values())
        assert leftovers.build_dirs["left behind"].exists(), "a dry run removed something"

        # Default age (24 h): the young leftovers stay; the release beyond the count goes at any age.
        young = json.loads(leftovers.gc("--json").stdout)
        assert [(item["kind"], item["name"]) for item in young["removed"]] == [
            ("image", leftovers.release_images[1])
        ]
        assert not _exists(client, "image", leftovers.release_images[1])
        assert _exists(client, "image", leftovers.images["dangling"])

        printed = leftovers.gc("--older-than", "0").stdout
        assert "freed" in printed and "MB" in printed, printed
        assert not _exists(client, "image", leftovers.images["dangling"])
        assert not _exists(client, "container", leftovers.containers["stopped dyno"])
        assert not leftovers.build_dirs["left behind"].exists()
        # Kept: the two newest releases and the current one, the running build's dir, and what is not ours.
        for version in (2, 3, 4):
            assert _exists(client, "image", leftovers.release_images[version]), f"v{version} was removed"
        assert leftovers.build_dirs["building"].exists()
        for role in ("build finishing", "another app's dangling", "operator's dangling", "operator's tagged"):
            assert _exists(client, "image", leftovers.images[role]), f"the {role} image was removed"
        for role in ("another installation's", "operator's"):
            assert _exists(client, "container", leftovers.containers[role]), (
                f"the {role} container was removed"
            )
        assert json.loads(leftovers.gc("--json", "--older-than", "0").stdout)["removed"] == []
    finally:
        client.close()


def test_gc_runs_on_a_schedule_from_services(leftovers: Leftovers) -> None:
    """The services process's gc task collects every WHARF_GC_INTERVAL_HOURS."""
    from wharf.platform import wharfd
    from wharf.platform.host_gc import run_gc_schedule

    assert "gc" in wharfd.SERVICES
    settings = Settings(
        wharf_data_dir=leftovers.data_dir,
        wharf_gc_interval_hours=0.5 / 3600,
        wharf_gc_age_hours=0,
        wharf_keep_releases=2,
    )
    stop = threading.Event()
    task = threading.Thread(target=run_gc_schedule, args=(settings, stop), daemon=True)
    task.start()
    try:
        deadline = time.monotonic() + 60
        while leftovers.build_dirs["left behind"].exists():
            assert time.monotonic() < deadline, "the scheduled gc did not run"
            time.sleep(0.2)
    finally:
        stop.set()
        task.join(timeout=60)
    assert leftovers.build_dirs["building"].exists()


def test_a_zero_interval_turns_the_schedule_off(tmp_path: Path) -> None:
    from wharf.platform.host_gc import run_gc_schedule

    stop = threading.Event()
    settings = Settings(wharf_data_dir=tmp_path, wharf_gc_interval_hours=0)
    task = threading.Thread(target=run_gc_schedule, args=(settings, stop), daemon=True)
    task.start()
    time.sleep(0.5)
    assert task.is_alive(), "the task must wait for stop, not end (its supervisor would restart it)"
    stop.set()
    task.join(timeout=5)
    assert not task.is_alive()
