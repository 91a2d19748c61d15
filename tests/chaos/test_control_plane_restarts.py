"""Restarting the control plane fails no request: load through the router while `wharfd up` is stopped
(SIGTERM, as an init system stops it), killed (-9, every wharfd process), and while one component dies
and its supervisor starts it again (the `services` process, then the API's). The router's nginx (one
master, the same pid throughout) outlives them all and is adopted, not restarted.
"""

from __future__ import annotations

import os
import signal
import time

import pytest

from tests.utils.chaos import Load, cmdline, process_tree, served_app, wharfd_processes
from tests.utils.e2e import Developer
from tests.utils.network import wait_for_http
from tests.utils.wharfd_up import WharfdUp

__all__ = ["served_app"]

pytestmark = pytest.mark.e2e


def _serving_again(server: WharfdUp, seconds: float = 5.0) -> None:
    """The API answers after a restart, and a few seconds pass under load with the new control plane."""
    wait_for_http(f"{server.wharf.url}/api/health", timeout=120)
    time.sleep(seconds)


def _component_pids(server: WharfdUp, component: str) -> list[int]:
    assert server.process is not None
    argv = b"wharfd\x00" + component.encode() + b"\x00"
    return [pid for pid in process_tree(server.process.pid) if argv in cmdline(pid) + b"\x00"]


def _kill_alone(server: WharfdUp, component: str) -> None:
    """SIGKILL the component's process; its supervisor starts another."""
    pids = _component_pids(server, component)
    assert len(pids) == 1, f"one {component} process: {pids}"
    os.kill(pids[0], signal.SIGKILL)
    deadline = time.monotonic() + 60
    while _component_pids(server, component) in ([], pids):
        assert time.monotonic() < deadline, f"the supervisor did not start {component} again"
        time.sleep(0.2)


def _nginx_master(server: WharfdUp) -> int:
    return int((server.wharf.data_dir / "router" / "nginx.pid").read_text().strip())


def test_no_request_fails_while_the_control_plane_restarts(
    served_app: tuple[WharfdUp, Developer, str],
) -> None:
    server, _developer, app = served_app
    port = server.wharf.http_port
    figures: list[str] = []
    nginx = _nginx_master(server)
    with Load(url=f"http://127.0.0.1:{port}/", host=f"{app}.localhost") as load:
        time.sleep(2)

        before = load.counts()
        server.stop()  # SIGTERM, as an init system stops it
        time.sleep(3)
        assert load.counts()[0] > before[0], "the apps stopped answering with the control plane down"
        server.start()
        _serving_again(server)
        figures.append(f"SIGTERM and start: {load.counts()}")

        assert server.process is not None
        for pid in wharfd_processes(server.process.pid):
            os.kill(pid, signal.SIGKILL)
        server.process.wait(timeout=10)
        server.process = None
        time.sleep(3)
        server.start()
        _serving_again(server)
        figures.append(f"kill -9 and start: {load.counts()}")

        for component in ("services", "api"):
            _kill_alone(server, component)
            time.sleep(8)
            figures.append(f"{component} killed alone: {load.counts()}")

    answered, failed = load.counts()
    print("\n".join(figures))
    assert answered > 200, f"too little load to show anything: {answered} answers"
    assert failed == 0, f"{failed} of {answered + failed} requests failed: {load.failures[:5]}"
    # The data plane was adopted, not restarted, and the app's route survived every restart.
    assert _nginx_master(server) == nginx, "the router's nginx master was replaced"
    assert server.wharf.app_get(app, "/").status_code == 200
