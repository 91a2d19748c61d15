"""The nginx master process the router owns: validate, swap, reload, supervise.

The master outlives the router that started it: a router that stops leaves it serving (unless told to
take traffic off the host), and the next one adopts it and reloads, so restarting the control plane
fails no request. A new config only replaces the live one after ``nginx -t`` accepted it, and the swap
is an ``os.replace``, so nginx never sees a half-written file. Reloads are SIGHUP to the master: old
workers finish the requests they hold while new workers take new connections, so no in-flight
request is failed by a route change.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from wharf.router.render import RouterPaths

logger = logging.getLogger(__name__)


class ConfigRejected(RuntimeError):
    """``nginx -t`` refused a candidate config; the live one was left as it was."""


@dataclass
class NginxMaster:
    """One nginx master started in the foreground with our config and prefix."""

    paths: RouterPaths
    binary: str = "nginx"
    process: subprocess.Popen[bytes] | None = None
    # A master started by an earlier run (of this process or another) and taken over by `adopt`.
    adopted: int | None = None

    def _argv(self, config: Path, *extra: str) -> list[str]:
        return [self.binary, "-p", str(self.paths.state_dir), "-c", str(config), "-e", "stderr", *extra]

    def validate(self, config: Path) -> None:
        """``nginx -t`` on ``config``: ConfigRejected on failure or a "conflicting server name" warning."""
        result = subprocess.run(
            self._argv(config, "-q", "-t"), capture_output=True, text=True, timeout=60, check=False
        )
        if result.returncode != 0:
            raise ConfigRejected(result.stderr.strip() or f"nginx -t exited {result.returncode}")
        conflicts = [line for line in result.stderr.splitlines() if "conflicting server name" in line]
        if conflicts:
            # nginx ignores the later block and serves the earlier one: a name that reached the
            # config twice would hand one app's traffic to another, so the table is refused.
            raise ConfigRejected("\n".join(conflicts))

    def install(self, text: str, *, validate: bool = True) -> None:
        """Validate ``text`` as a candidate (unless told it needs none), then make it the live config in
        one rename."""
        candidate = self.paths.candidate
        candidate.write_text(text, encoding="utf-8")
        if validate:
            try:
                self.validate(candidate)
            except ConfigRejected:
                candidate.unlink(missing_ok=True)
                raise
        os.replace(candidate, self.paths.config)

    @property
    def master_pid(self) -> int | None:
        if self.process is not None:
            return self.process.pid
        return self.adopted

    @property
    def running(self) -> bool:
        if self.process is not None:
            return self.process.poll() is None
        if self.adopted is None:
            return False
        _reap(self.adopted)
        return _alive(self.adopted) and _is_our_nginx(self.adopted, self.paths.config)

    def adopt(self) -> bool:
        """Take over a master on this config left serving by an earlier run; False when there is none."""
        pid = self._pid_from_file()
        if pid is None or not _alive(pid) or not _is_our_nginx(pid, self.paths.config):
            return False
        self.process, self.adopted = None, pid
        logger.info("serving on with nginx master %d started by an earlier router run", pid)
        return True

    def start(self) -> None:
        """Serve: adopt the master an earlier run left on this config, else start one on the live config."""
        if self.running or self.adopt():
            return
        self.adopted = None
        self.process = subprocess.Popen(
            self._argv(self.paths.config, "-g", "daemon off;"),
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self._wait_for_pid_file()

    def detach(self) -> None:
        """Forget the master without stopping it: the apps go on being served until a router adopts it."""
        if self.master_pid is not None:
            logger.info("leaving nginx master %d serving", self.master_pid)
        self.process = self.adopted = None

    def _wait_for_pid_file(self) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"nginx exited at start with status {self.process.returncode}")
            if self._pid_from_file() == (self.process.pid if self.process else None):
                return
            time.sleep(0.02)
        raise RuntimeError("nginx did not write its pid file within 10 s")

    def _pid_from_file(self) -> int | None:
        try:
            return int(self.paths.pid.read_text().strip())
        except (OSError, ValueError):
            return None

    def reload(self, timeout: float = 10.0) -> bool:
        """Graceful reload; returns once no worker on the old config accepts connections any more.

        Old workers go on accepting until they handle the master's signal, so "reloaded" means every
        old worker has exited or is "shutting down" (finishing its in-flight requests only). False when
        that did not happen within ``timeout`` (nginx refused the new config, or a worker is stuck).
        """
        master = self.master_pid
        if master is None or not self.running:
            raise RuntimeError("nginx is not running")
        old_workers = set(_accepting_workers(master))
        os.kill(master, signal.SIGHUP)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            accepting = set(_accepting_workers(master))
            if accepting and not accepting & old_workers:
                return True
            time.sleep(0.005)
        logger.warning("nginx workers were not replaced within %.0f s of a reload", timeout)
        return False

    def reopen_logs(self) -> None:
        """Make nginx reopen its log files after the access log was rotated."""
        master = self.master_pid
        if master is not None and self.running:
            os.kill(master, signal.SIGUSR1)

    def stop(self, timeout: float = 10.0) -> None:
        """Graceful shutdown (SIGQUIT), then SIGTERM and SIGKILL if the workers do not finish."""
        master, ours = self.master_pid, self.process
        if master is None:
            return
        running = self.running
        self.process = self.adopted = None
        if not running:
            return
        for sig, wait in ((signal.SIGQUIT, timeout), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(master, sig)
            if _wait_for_exit(master, ours, wait):
                break


def _wait_for_exit(pid: int, ours: subprocess.Popen[bytes] | None, timeout: float) -> bool:
    if ours is not None:
        try:
            ours.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return False
        return True
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _reap(pid)
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


def _reap(pid: int) -> None:
    """Collect `pid` if it is an exited child of this process (a master adopted within the same process)."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def _accepting_workers(master: int) -> list[int]:
    """Worker processes of ``master`` that still take new connections (not shutting down)."""
    workers = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            title = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == master and title.startswith(b"nginx: worker process") and b"shutting down" not in title:
            workers.append(int(entry.name))
    return workers


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _is_our_nginx(pid: int, config: Path) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"nginx" in cmdline and str(config).encode() in cmdline
