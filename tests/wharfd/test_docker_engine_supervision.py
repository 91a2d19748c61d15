"""Keeping dockerd up where no systemd does: the services process starts it again only once it is gone,
never beside one still running (a dockerd that shuts down slowly with live-restore is waited for), and
leaves that to systemd where systemd is PID 1. The engine is simulated: these never touch the host's."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from wharf.platform import docker_daemon


class Engine:
    """A dockerd that stops answering, lingers as a process for a while, and comes back when started."""

    def __init__(self) -> None:
        self.answering = True
        self.process_alive = True
        self.starts = 0
        self.started_beside_a_running_one = False

    def answers(self, _path: Path, timeout: float = 3.0) -> bool:
        return self.answering

    def running(self) -> bool:
        return self.process_alive

    def start(self, _log_path: Path) -> object:
        if self.process_alive:
            self.started_beside_a_running_one = True
        self.starts += 1
        self.process_alive = True
        self.answering = True
        return object()


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch) -> Engine:
    fake = Engine()
    monkeypatch.setattr(docker_daemon, "CHECK_SECONDS", 0.02)
    monkeypatch.setattr(docker_daemon, "engine_answers", fake.answers)
    monkeypatch.setattr(docker_daemon, "dockerd_running", fake.running)
    monkeypatch.setattr(docker_daemon, "start_dockerd", fake.start)
    monkeypatch.setattr(docker_daemon, "init_is_systemd", lambda: False)
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    return fake


def keep(engine: Engine, tmp_path: Path) -> tuple[threading.Event, threading.Thread]:
    stop = threading.Event()
    thread = threading.Thread(
        target=docker_daemon.keep_engine, args=(tmp_path / "dockerd.log", stop), daemon=True
    )
    thread.start()
    return stop, thread


def until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_a_gone_dockerd_is_started_again_once(engine: Engine, tmp_path: Path) -> None:
    stop, thread = keep(engine, tmp_path)
    try:
        time.sleep(0.2)
        assert engine.starts == 0, "an answering engine is left alone"
        engine.answering = False  # stopping: no answer, the process still shutting down
        time.sleep(0.3)
        assert engine.starts == 0, "never a second dockerd beside one that is still there"
        engine.process_alive = False
        until(lambda: engine.starts == 1)
        time.sleep(0.2)
        assert engine.starts == 1 and not engine.started_beside_a_running_one
    finally:
        stop.set()
        thread.join(timeout=5)


def test_where_systemd_runs_dockerd_is_left_to_it(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(docker_daemon, "init_is_systemd", lambda: True)
    engine.answering = engine.process_alive = False
    stop, thread = keep(engine, tmp_path)
    time.sleep(0.3)
    stop.set()
    thread.join(timeout=5)
    assert engine.starts == 0


def test_only_the_dockerd_serving_the_engines_socket_counts(tmp_path: Path) -> None:
    """A second engine on the host (another socket) is never taken for ours, nor stopped as ours."""
    config = tmp_path / "daemon.json"
    config.write_text('{"hosts": ["unix:///run/wharf-test-hosts/a/docker.sock"]}')
    sockets = docker_daemon.dockerd_sockets
    assert sockets(["dockerd"]) == {docker_daemon._resolved(docker_daemon.DEFAULT_SOCKET)}
    assert sockets(["dockerd", "--config-file", str(config)]) == {Path("/run/wharf-test-hosts/a/docker.sock")}
    assert sockets(["dockerd", "-H", "unix:///tmp/b.sock", "--host=tcp://127.0.0.1:2375"]) == {
        Path("/tmp/b.sock")
    }


def test_dockerd_is_started_with_the_config_file_wharf_is_given(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("WHARF_DOCKERD_CONFIG", raising=False)
    assert docker_daemon.dockerd_argv("/usr/sbin/dockerd") == ["/usr/sbin/dockerd"]
    monkeypatch.setenv("WHARF_DOCKERD_CONFIG", str(tmp_path / "daemon.json"))
    assert docker_daemon.dockerd_argv("/usr/sbin/dockerd") == [
        "/usr/sbin/dockerd",
        "--config-file",
        str(tmp_path / "daemon.json"),
    ]
