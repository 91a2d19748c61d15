"""Keeping the Docker engine up on hosts where no init system does (PID 1 is not systemd).

Where systemd runs, its docker.service starts and restarts dockerd. Elsewhere (containers, CI, small
VMs) `wharfd up` starts dockerd itself when it does not answer, detached into its own session so that
stopping the control plane leaves the engine and its dynos running, and the `services` process checks
it every few seconds and starts it again if it died. Standard library only.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

log = logging.getLogger(__name__)

DEFAULT_SOCKET = Path("/var/run/docker.sock")
DEFAULT_CONFIG = Path("/etc/docker/daemon.json")
CHECK_SECONDS = 5.0
# Checks in a row without an answer before a new dockerd is started (a busy engine may be slow once).
MISSES_BEFORE_RESTART = 3


class DockerUnavailable(RuntimeError):
    """dockerd does not answer and could not be started; the message says what to do."""


def engine_socket(docker_host: str | None = None) -> Path | None:
    """The unix socket the Docker client talks to; None for a TCP DOCKER_HOST (not ours to start)."""
    host = docker_host if docker_host is not None else os.environ.get("DOCKER_HOST", "")
    if not host:
        return DEFAULT_SOCKET
    if host.startswith("unix://"):
        return Path(host.removeprefix("unix://"))
    return None


def engine_answers(path: Path, timeout: float = 3.0) -> bool:
    """Whether the engine on `path` answers `GET /_ping` with OK."""
    try:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(timeout)
            sock.connect(str(path))
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            answer = sock.recv(256)
    except OSError:
        return False
    status_line = answer.split(b"\r\n", 1)[0].split()
    return len(status_line) >= 2 and status_line[0].startswith(b"HTTP/1.") and status_line[1] == b"200"


def init_is_systemd() -> bool:
    try:
        return Path("/proc/1/comm").read_text().strip() == "systemd"
    except OSError:
        return False


def dockerd_sockets(argv: list[str]) -> set[Path]:
    """The unix sockets a dockerd started with `argv` serves: its -H/--host flags, else those of its
    config file (--config-file, default /etc/docker/daemon.json), else the default socket."""
    hosts: list[str] = []
    config = DEFAULT_CONFIG
    args = iter(argv[1:])
    for arg in args:
        name, has_value, value = arg.partition("=")
        if name in ("-H", "--host", "--config-file"):
            value = value if has_value else next(args, "")
            if name == "--config-file":
                config = Path(value)
            else:
                hosts.append(value)
    if not hosts:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            listed = json.loads(config.read_text()).get("hosts", [])
            hosts = [str(host) for host in listed]
    sockets = {Path(host.removeprefix("unix://")) for host in hosts if host.startswith(("unix://", "/"))}
    if not hosts:
        sockets.add(DEFAULT_SOCKET)
    return {_resolved(path) for path in sockets}


def _alive(proc_entry: Path) -> bool:
    """Not a zombie: a dockerd this process started and that has exited stays in /proc until reaped."""
    try:
        return (proc_entry / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def process_gone(pid: int) -> bool:
    return not _alive(Path(f"/proc/{pid}"))


def _resolved(path: Path) -> Path:
    return path.parent.resolve() / path.name  # /var/run is a link to /run on most hosts


def dockerd_pids(socket_path: Path | None = None) -> list[int]:
    """The pids of the dockerd processes serving `socket_path` (the engine's socket: DOCKER_HOST's or
    the default one), answering or still starting. Other engines on the host are not ours to count."""
    path = engine_socket() if socket_path is None else socket_path
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() != "dockerd" or not _alive(entry):
                    continue
                argv = [part.decode() for part in (entry / "cmdline").read_bytes().split(b"\0") if part]
            except (OSError, UnicodeDecodeError):
                continue
            if path is not None and _resolved(path) in dockerd_sockets(argv):
                found.append(int(entry.name))
    return found


def dockerd_running(socket_path: Path | None = None) -> bool:
    """Whether a dockerd serving the engine's socket exists (answering or still starting)."""
    return bool(dockerd_pids(socket_path))


def stop_dockerd(socket_path: Path | None = None, timeout: float = 60.0) -> list[int]:
    """SIGTERM the dockerd serving `socket_path` (default: the engine's) and wait until it is gone; its pids.

    With `"live-restore": true` in daemon.json the containers keep running meanwhile. Where systemd runs,
    `systemctl restart docker` is the way: this is for hosts where dockerd was started by hand or by Wharf.
    """
    pids = dockerd_pids(socket_path)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while not all(process_gone(pid) for pid in pids):
        if time.monotonic() > deadline:
            raise DockerUnavailable(f"dockerd (pids {pids}) did not stop within {timeout:.0f} s")
        time.sleep(0.1)
    return pids


def dockerd_argv(binary: str) -> list[str]:
    """dockerd's command line: its own config file where WHARF_DOCKERD_CONFIG names one (a host whose
    engine's settings do not live in /etc/docker/daemon.json), else dockerd's defaults."""
    config = os.environ.get("WHARF_DOCKERD_CONFIG", "")
    return [binary, "--config-file", config] if config else [binary]


def start_dockerd(log_path: Path) -> subprocess.Popen[bytes]:
    binary = shutil.which("dockerd")
    if binary is None:
        raise DockerUnavailable(
            "dockerd is not installed: run `sudo bash scripts/install.sh` (Debian's docker.io package)"
        )
    log_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        return subprocess.Popen(
            dockerd_argv(binary), stdin=subprocess.DEVNULL, stdout=fd, stderr=fd, start_new_session=True
        )
    finally:
        os.close(fd)


def ensure_engine(log_path: Path, *, timeout: float = 60.0, say: logging.Logger = log) -> str:
    """Make sure the Docker engine answers: "running", or "started" when this call started dockerd.

    Starts dockerd only where the init system will not (no systemd) and only for a local socket.
    """
    path = engine_socket()
    if path is None or engine_answers(path):
        return "running"
    if init_is_systemd():
        raise DockerUnavailable("dockerd does not answer: start it with `sudo systemctl start docker`")
    if not dockerd_running():
        say.info("dockerd is not running; starting it (log: %s)", log_path)
        start_dockerd(log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if engine_answers(path):
            return "started"
        time.sleep(0.25)
    raise DockerUnavailable(f"dockerd did not answer within {timeout:.0f} s: see {log_path}")


def keep_engine(log_path: Path, stop: threading.Event) -> None:
    """Until `stop`: check the engine every few seconds and start dockerd again when it is gone."""
    path = engine_socket()
    if path is None or init_is_systemd():
        stop.wait()
        return
    misses = 0
    while not stop.wait(CHECK_SECONDS):
        if engine_answers(path):
            misses = 0
            continue
        misses += 1
        if misses >= MISSES_BEFORE_RESTART and not dockerd_running():
            log.warning("dockerd stopped answering and is gone; starting it again")
            start_dockerd(log_path)
            misses = 0
