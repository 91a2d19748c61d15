"""`wharfd backup`, a wiped host, `wharfd restore`: every app serves again with its config, and its
developer's token still works; a release image missing on the new host is rebuilt from the repository."""

from __future__ import annotations

import shutil
import stat
import subprocess
import sys
import tarfile
from pathlib import Path

import asyncssh
import docker
import pytest

from tests.utils.e2e import new_developer, remove_app_containers, take_routers_down
from tests.utils.wharfd_up import WharfdUp, push_new_app, wait_until_served
from wharf.platform.security.authority import authority_paths
from wharf.platform.sshd.host_key import host_key_path

pytestmark = pytest.mark.e2e
WHARFD = [sys.executable, "-m", "wharf.platform.wharfd"]


def remove_app_images(app: str) -> int:
    client = docker.from_env()
    try:
        tags = [t for image in client.images.list(name=f"wharf/{app}") for t in image.tags]
        for tag in tags:
            client.images.remove(tag)
        return len(tags)
    finally:
        client.close()


def host_key_fingerprint(data_dir: Path) -> str:
    return str(asyncssh.read_private_key(host_key_path(data_dir)).get_fingerprint())


def test_backup_wipe_restore_brings_every_app_back(tmp_path: Path) -> None:
    data_dir = tmp_path / "wharf-data"
    data_dir.mkdir()
    server = WharfdUp(data_dir)
    env = server.wharf.env
    archive = tmp_path / "host.tar.gz"
    server.start()
    try:
        developer = new_developer(server.wharf, tmp_path)
        app = push_new_app(developer, "procfile_only", tmp_path)
        developer.api.patch(f"/api/apps/{app}/config", json={"GREETING": "kept"}).raise_for_status()
        wait_until_served(server.wharf, app, 120)
        ssh_fingerprint = host_key_fingerprint(data_dir)
        ca_root = authority_paths(data_dir).root_cert.read_bytes()

        made = subprocess.run(
            [*WHARFD, "backup", "--output", str(archive)], env=env, capture_output=True, text=True
        )
        assert made.returncode == 0, made.stdout + made.stderr
        assert stat.S_IMODE(archive.stat().st_mode) == 0o600, "the archive holds the secret key"
        with tarfile.open(archive) as opened:
            names = opened.getnames()
            host_key_member = next(
                (m for m in opened.getmembers() if m.name == "data/ssh/host_ed25519_key"), None
            )
        assert "data/secret.key" in names and f"data/repos/{app}.git/HEAD" in names
        assert host_key_member is not None, "the SSH git host key is in the archive"
        assert stat.S_IMODE(host_key_member.mode) == 0o600

        server.stop()
        take_routers_down(env)
        remove_app_containers(f"sqlite:///{data_dir / 'wharf.db'}")
        assert remove_app_images(app) > 0
        shutil.rmtree(data_dir)
        data_dir.mkdir()

        restored = subprocess.run([*WHARFD, "restore", str(archive)], env=env, capture_output=True, text=True)
        assert restored.returncode == 0, restored.stdout + restored.stderr
        again = subprocess.run([*WHARFD, "restore", str(archive)], env=env, capture_output=True, text=True)
        assert again.returncode == 1 and "already holds a Wharf install" in again.stderr
        assert host_key_fingerprint(data_dir) == ssh_fingerprint, "git clients see the same host key"
        assert stat.S_IMODE(host_key_path(data_dir).stat().st_mode) == 0o600
        restored_ca = authority_paths(data_dir)
        assert restored_ca.root_cert.read_bytes() == ca_root, "clients trusting the local CA root still do"
        assert stat.S_IMODE(restored_ca.root_key.stat().st_mode) == 0o600

        server.start()
        wait_until_served(server.wharf, app, 240)
        config = developer.api.get(f"/api/apps/{app}/config")
        assert config.status_code == 200, "the developer's token survived the restore"
        assert config.json().get("GREETING") == "kept"
    finally:
        server.stop()
        take_routers_down(env)
        if (data_dir / "wharf.db").exists():
            remove_app_containers(f"sqlite:///{data_dir / 'wharf.db'}")


def test_restore_refuses_what_is_not_a_wharf_backup(tmp_path: Path) -> None:
    evil = tmp_path / "evil.tar.gz"
    (tmp_path / "payload").write_text("x")
    with tarfile.open(evil, "w:gz") as archive:
        archive.add(tmp_path / "payload", arcname="../../etc/cron.d/evil")
    env = WharfdUp(tmp_path / "empty").wharf.env
    refused = subprocess.run([*WHARFD, "restore", str(evil)], env=env, capture_output=True, text=True)
    assert refused.returncode == 1
    assert "unsafe path" in refused.stderr
    assert not Path("/etc/cron.d/evil").exists()
