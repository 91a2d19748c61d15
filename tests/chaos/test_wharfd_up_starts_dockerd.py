"""The README's run command (`wharfd up`) on a host whose dockerd is stopped and no systemd runs:
`wharfd up` starts the engine itself and the platform comes up."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.utils.test_host import docker_test_host
from tests.utils.wharfd_up import WharfdUp
from wharf.platform.docker_daemon import init_is_systemd
from wharf.platform.settings import Settings

pytestmark = [pytest.mark.e2e, pytest.mark.dockerd_restart]


def test_wharfd_up_starts_a_stopped_dockerd_and_the_platform_answers(tmp_path: Path) -> None:
    if init_is_systemd():
        pytest.skip("systemd starts dockerd here")
    settings = Settings()
    images = (settings.wharf_run_image, settings.wharf_build_image)
    with docker_test_host(images, start=False) as host:
        assert not host.answers(), "the test host's dockerd is stopped before wharfd up"
        data_dir = tmp_path / "wharf-data"
        data_dir.mkdir()
        server = WharfdUp(data_dir, on=host)
        server.start()
        try:
            assert httpx.get(f"{server.wharf.url}/api/health", timeout=10).status_code == 200
            assert host.answers(), "wharfd up started the engine"
            assert "docker engine started" in server.log_path.read_text()
        finally:
            server.stop()
