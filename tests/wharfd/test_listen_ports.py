"""`wharfd up` refuses to start while a port it listens on is taken, naming the setting and the holder;
and no component outlives the `wharfd up` that started it, or is left running by one that was killed."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from wharf.platform.listen_ports import TCP, UDP, PortClaim, PortsTaken, check_ports, claims_of, holder_of
from wharf.platform.operations import stop_leftover_components
from wharf.platform.settings import Settings
from wharf.platform.supervisor import PLAN_VARIABLE, STATE_FILE_VARIABLE

WHARFD = [sys.executable, "-m", "wharf.platform.wharfd"]
SLEEP = "import time; time.sleep(120)"


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _wait_gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def listening() -> Iterator[socket.socket]:
    """A TCP socket of this process listening on a port of the loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock


@pytest.fixture
def bound_udp() -> Iterator[socket.socket]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("0.0.0.0", 0))  # noqa: S104  (as the statsd listener binds)
        yield sock


def test_a_taken_tcp_port_is_refused_with_its_setting_and_holder(listening: socket.socket) -> None:
    port = listening.getsockname()[1]
    claim = PortClaim("the waker", "WHARF_WAKER_PORT", TCP, "127.0.0.1", port)
    started = time.monotonic()
    with pytest.raises(PortsTaken) as raised:
        check_ports([claim], settle=1.0)
    assert time.monotonic() - started >= 1.0, "a taken port gets the settle time to come free"
    said = str(raised.value)
    assert f"127.0.0.1:{port}/tcp" in said
    assert "WHARF_WAKER_PORT" in said
    assert f"pid {os.getpid()} (" in said, said


def test_a_taken_udp_port_is_refused(bound_udp: socket.socket) -> None:
    port = bound_udp.getsockname()[1]
    claim = PortClaim("statsd", "WHARF_STATSD_PORT", UDP, "0.0.0.0", port)  # noqa: S104
    with pytest.raises(PortsTaken) as raised:
        check_ports([claim], settle=0)
    assert "WHARF_STATSD_PORT" in str(raised.value)
    assert holder_of(UDP, port) is not None
    assert holder_of(UDP, port).startswith(f"pid {os.getpid()} ")  # type: ignore[union-attr]


def test_a_port_that_comes_free_within_the_settle_time_passes() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    port = sock.getsockname()[1]
    threading.Timer(1.0, sock.close).start()
    check_ports([PortClaim("the API", "WHARF_API_PORT", TCP, "127.0.0.1", port)], settle=10)


def test_free_ports_pass_and_an_address_not_on_this_host_is_refused_at_once() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    check_ports([PortClaim("the API", "WHARF_API_PORT", TCP, "127.0.0.1", port)], settle=0)
    started = time.monotonic()
    with pytest.raises(PortsTaken) as raised:
        # 192.0.2.0/24 is for documentation: no host has it.
        check_ports([PortClaim("the API", "WHARF_API_PORT", TCP, "192.0.2.7", port)], settle=10)
    assert time.monotonic() - started < 5
    assert "192.0.2.7" in str(raised.value) and "WHARF_API_PORT" in str(raised.value)


def test_claims_follow_the_settings(tmp_path: Path) -> None:
    every = claims_of(Settings(wharf_data_dir=tmp_path, wharf_api_port=5400, wharf_waker_port=5491))
    assert [(c.variable, c.protocol, c.port) for c in every] == [
        ("WHARF_API_PORT", TCP, 5400),
        ("WHARF_SSH_PORT", TCP, 2222),
        ("WHARF_WAKER_PORT", TCP, 5491),
        ("WHARF_STATSD_PORT", UDP, 8125),
    ]
    fewer = claims_of(Settings(wharf_data_dir=tmp_path, wharf_ssh_enabled=False, wharf_statsd_port=0))
    assert [c.variable for c in fewer] == ["WHARF_API_PORT", "WHARF_WAKER_PORT"]


def test_wharfd_up_refuses_a_taken_port_before_starting_anything(
    tmp_path: Path, listening: socket.socket
) -> None:
    port = listening.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL", "WHARF_SECRET_KEY")}
    env.update(WHARF_DATA_DIR=str(tmp_path), WHARF_WAKER_PORT=str(port), WHARF_SSH_ENABLED="false")
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        env["WHARF_API_PORT"] = str(free.getsockname()[1])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as free:
        free.bind(("127.0.0.1", 0))
        env["WHARF_STATSD_PORT"] = str(free.getsockname()[1])
    answer = subprocess.run([*WHARFD, "up"], env=env, capture_output=True, text=True, timeout=120)
    said = " ".join((answer.stdout + answer.stderr).split())
    assert answer.returncode == 1, said[-800:]
    assert f"127.0.0.1:{port}/tcp" in said and "WHARF_WAKER_PORT" in said, said[-800:]
    assert f"pid {os.getpid()} (" in said, said[-800:]
    assert not (tmp_path / "redis" / "redis.sock").exists(), "nothing started"
    assert not Settings(wharf_data_dir=tmp_path).supervisor_state_path.exists()


def _supervise(state_file: Path, children: list[dict[str, object]]) -> subprocess.Popen[bytes]:
    env = {**os.environ, PLAN_VARIABLE: json.dumps(children), STATE_FILE_VARIABLE: str(state_file)}
    return subprocess.Popen(
        [sys.executable, "-m", "wharf.platform.supervisor"], env=env, stderr=subprocess.DEVNULL
    )


def _component_pids(state_file: Path, count: int, timeout: float = 15.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            pids = [c["pid"] for c in json.loads(state_file.read_text())["components"]]
        except (OSError, ValueError, KeyError):
            pids = []
        if len(pids) == count and all(isinstance(pid, int) for pid in pids):
            return pids
        time.sleep(0.1)
    raise AssertionError(f"the supervisor did not record {count} running components in {state_file}")


def test_components_stop_when_their_supervisor_is_killed(tmp_path: Path) -> None:
    state_file = tmp_path / "supervisor.json"
    sleeper = [sys.executable, "-c", SLEEP]
    plan: list[dict[str, object]] = [
        {"name": name, "argv": sleeper, "env": {}, "ready_socket": None} for name in ("api", "services")
    ]
    supervisor = _supervise(state_file, plan)
    try:
        pids = _component_pids(state_file, 2)
        assert all(_alive(pid) for pid in pids)
        supervisor.kill()
        supervisor.wait(timeout=10)
        assert all(_wait_gone(pid) for pid in pids), "a component outlived its supervisor's kill -9"
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
        for pid in _component_pids_or_none(state_file):
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def _component_pids_or_none(state_file: Path) -> list[int]:
    try:
        return [
            c["pid"] for c in json.loads(state_file.read_text())["components"] if isinstance(c["pid"], int)
        ]
    except (OSError, ValueError, KeyError):
        return []


def test_the_next_up_stops_components_a_killed_one_left(tmp_path: Path) -> None:
    # Components of an earlier `wharfd up` that outlived it (started by another version, say): their
    # command lines are what `wharfd up` runs; the supervisor's pid is gone.
    left = {
        name: subprocess.Popen([sys.executable, "-c", SLEEP, "-m", "wharf.platform.wharfd", name])
        for name in ("api", "services")
    }
    stranger = subprocess.Popen([sys.executable, "-c", SLEEP, "-m", "something.else", "api"])
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    state_file = tmp_path / "supervisor.json"
    components = [{"name": name, "pid": process.pid} for name, process in left.items()]
    components.append({"name": "scheduler", "pid": stranger.pid})  # pid reused by another program
    state_file.write_text(json.dumps({"pid": gone.pid, "components": components}))
    try:
        stopped = stop_leftover_components(state_file, timeout=10)
        assert sorted(stopped) == sorted(f"{name} (pid {p.pid})" for name, p in left.items())
        for process in left.values():
            assert process.wait(timeout=10) == -signal.SIGTERM
        assert stranger.poll() is None, "a process that is no component of this data dir is left alone"
    finally:
        for process in [*left.values(), stranger]:
            if process.poll() is None:
                process.kill()
                process.wait()


def test_no_leftovers_are_stopped_while_a_wharfd_up_runs(tmp_path: Path) -> None:
    state_file = tmp_path / "supervisor.json"
    plan: list[dict[str, object]] = [
        {"name": "api", "argv": [sys.executable, "-c", SLEEP], "env": {}, "ready_socket": None}
    ]
    supervisor = _supervise(state_file, plan)
    try:
        (pid,) = _component_pids(state_file, 1)
        assert stop_leftover_components(state_file, timeout=1) == []
        assert _alive(pid)
    finally:
        supervisor.send_signal(signal.SIGTERM)
        supervisor.wait(timeout=40)
