"""scripts/install.sh turns the distro's nginx off, so Wharf's router can listen on :80 and :443.

Each test sources the installer (which then only defines its steps) and runs its nginx step, with fake
`systemctl`, `service` and `update-rc.d` first on PATH that record how they were called.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.utils.network import REPO_ROOT

INSTALL_SH = REPO_ROOT / "scripts" / "install.sh"
RECORDED = ("systemctl", "service", "update-rc.d")


def fake_commands(bin_dir: Path, calls: Path) -> None:
    bin_dir.mkdir()
    for name in RECORDED:
        fake = bin_dir / name
        fake.write_text(f'#!/bin/sh\necho "{name} $*" >> "{calls}"\n')
        fake.chmod(0o755)


def turn_distro_nginx_off(tmp_path: Path, *, systemd: bool, pid_file: Path) -> list[str]:
    """Run the installer's nginx step; the recorded calls, one "command args" line each."""
    calls = tmp_path / "calls"
    calls.touch()
    fake_commands(tmp_path / "bin", calls)
    script = (
        f'source "{INSTALL_SH}"\n'
        f"install::init_is_systemd() {{ {'true' if systemd else 'false'}; }}\n"
        f'distro_nginx_pid_file="{pid_file}"\n'
        "install::distro_nginx_off\n"
    )
    env = {**os.environ, "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}"}
    done = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stdout + done.stderr
    return calls.read_text().splitlines()


@pytest.fixture
def distro_nginx(tmp_path: Path) -> Iterator[Path]:
    """A running process that looks like the distro's nginx master, and its pid file."""
    process = subprocess.Popen(["nginx: master process /usr/sbin/nginx", "60"], executable="sleep")
    pid_file = tmp_path / "nginx.pid"
    pid_file.write_text(f"{process.pid}\n")
    try:
        yield pid_file
    finally:
        process.kill()
        process.wait()


def test_with_systemd_the_distro_nginx_service_is_disabled_and_stopped(tmp_path: Path) -> None:
    calls = turn_distro_nginx_off(tmp_path, systemd=True, pid_file=tmp_path / "none.pid")
    assert calls == ["systemctl disable --now nginx.service"]


def test_without_systemd_a_running_distro_nginx_is_stopped(tmp_path: Path, distro_nginx: Path) -> None:
    calls = turn_distro_nginx_off(tmp_path, systemd=False, pid_file=distro_nginx)
    assert "service nginx stop" in calls
    assert "update-rc.d nginx disable" in calls, "it would start again at the next boot"
    assert not any(call.startswith("systemctl") for call in calls)


def test_without_systemd_and_no_distro_nginx_running_nothing_is_stopped(tmp_path: Path) -> None:
    stale = tmp_path / "nginx.pid"
    stale.write_text("999999999\n")
    calls = turn_distro_nginx_off(tmp_path, systemd=False, pid_file=stale)
    assert not any(call.startswith(("service", "systemctl")) for call in calls)
