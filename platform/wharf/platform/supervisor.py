"""Runs Wharf's components as child processes in the foreground, for `wharfd up`.

A component that exits is started again after a growing pause; Ctrl-C or SIGTERM stops them all.
Components that need no isolation share one process as threads (`run_tasks`): a task that raises is
started again the same way, without disturbing the others.

This module imports only the standard library: after its setup, `wharfd up` execs
`python -m wharf.platform.supervisor PLAN` so that the long-lived parent holds no heavy modules.
"""

from __future__ import annotations

import ctypes
import functools
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

MAX_BACKOFF_SECONDS = 30.0
PR_SET_PDEATHSIG = 1


@dataclass
class Component:
    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    # A unix socket that must answer PING before the components after this one start (redis-server).
    ready_socket: str | None = None
    process: subprocess.Popen[bytes] | None = None
    backoff: float = 1.0
    restart_at: float = 0.0
    started_at: float = field(default=0.0)
    started_wall: float = 0.0
    restarts: int = 0
    last_error: str | None = None


def component_argv(name: str) -> list[str]:
    return [sys.executable, "-m", "wharf.platform.wharfd", name]


class Supervisor:
    def __init__(
        self,
        components: list[Component],
        env: dict[str, str],
        say: Callable[[str], None],
        state_file: Path | None = None,
    ) -> None:
        self._components = components
        self._env = env
        self._say = say
        self._stopping = False
        self._state_file = state_file
        self._started_wall = time.time()

    def _start(self, component: Component) -> None:
        component.process = subprocess.Popen(
            component.argv,
            env={**self._env, **component.env},
            preexec_fn=functools.partial(die_with_parent, os.getpid()),
        )
        component.started_at = time.monotonic()
        component.started_wall = time.time()
        self._say(f"started {component.name} (pid {component.process.pid})")
        self._write_state()
        if component.ready_socket is not None:
            wait_for_redis_socket(Path(component.ready_socket), component.process, timeout=15)

    def _write_state(self) -> None:
        """What `wharfd status` and `wharfd down` read: this pid and each component's pid and history."""
        if self._state_file is None:
            return
        state = {
            "pid": os.getpid(),
            "started_at": self._started_wall,
            "components": [
                {
                    "name": c.name,
                    "pid": c.process.pid if c.process is not None and c.process.poll() is None else None,
                    "started_at": c.started_wall or None,
                    "restarts": c.restarts,
                    "last_error": c.last_error,
                }
                for c in self._components
            ],
        }
        write_private_json(self._state_file, state)

    def _stop_signal(self, signum: int, _frame: object) -> None:
        self._stopping = True

    def run(self) -> int:
        signal.signal(signal.SIGINT, self._stop_signal)
        signal.signal(signal.SIGTERM, self._stop_signal)
        for component in self._components:
            if not self._stopping:
                self._start(component)
        while not self._stopping:
            time.sleep(0.2)
            for component in self._components:
                self._watch(component)
        self.stop_all()
        return 0

    def _watch(self, component: Component) -> None:
        now = time.monotonic()
        process = component.process
        if process is not None and process.poll() is not None:
            if now - component.started_at > 60:
                component.backoff = 1.0
            status, pause = process.returncode, component.backoff
            self._say(f"{component.name} exited with status {status}; restarting in {pause:.0f}s")
            component.process = None
            component.restarts += 1
            component.last_error = (
                f"exited with status {status} at {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}"
            )
            self._write_state()
            component.restart_at = now + component.backoff
            component.backoff = min(component.backoff * 2, MAX_BACKOFF_SECONDS)
        if component.process is None and now >= component.restart_at:
            self._start(component)

    def stop_all(self, timeout: float = 30.0) -> None:
        """Stop the components in reverse order of start, by groups: those with a ready socket
        (redis-server) go only after everything started after them has stopped."""
        groups: list[list[Component]] = [[]]
        for component in self._components:
            if component.ready_socket is not None:
                groups.append([component])
                groups.append([])
            else:
                groups[-1].append(component)
        for group in reversed(groups):
            self._stop_group(group, timeout)
        if self._state_file is not None:
            self._state_file.unlink(missing_ok=True)
        self._say("stopped")

    def _stop_group(self, group: list[Component], timeout: float) -> None:
        terminate_processes([c.process for c in group if c.process is not None], timeout)


def die_with_parent(parent: int) -> None:
    """In a child between fork and exec: SIGTERM it when the supervisor dies (killed with -9, say), so
    that no component outlives the `wharfd up` that started it (the next one would find its ports
    taken, or two would run). Linux only; elsewhere nothing."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:
        # The supervisor died between the fork and the prctl: this child would never be told.
        os._exit(1)


def terminate_processes(processes: list[subprocess.Popen[bytes]], timeout: float) -> None:
    """SIGTERM to each that still runs, then SIGKILL to those still running after `timeout` in all."""
    running = [p for p in processes if p.poll() is None]
    for process in running:
        process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for process in running:
        try:
            process.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def wait_for_redis_socket(path: Path, process: subprocess.Popen[bytes], timeout: float) -> None:
    """Until redis-server answers PING on `path` (without importing the redis client)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with socket.socket(socket.AF_UNIX) as sock:
                sock.settimeout(1)
                sock.connect(str(path))
                sock.sendall(b"PING\r\n")
                if sock.recv(64).startswith(b"+PONG"):
                    return
        except OSError:
            pass
        time.sleep(0.05)


def shut_down_leftover_redis(path: Path, timeout: float = 30.0) -> bool:
    """Stop a redis-server an earlier `wharfd up` left on `path` (killed with -9, say), saving its data.

    True when one answered. Its AOF is flushed by SHUTDOWN, so the new one starts from every write.
    """
    try:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(5)
            sock.connect(str(path))
            sock.sendall(b"PING\r\n")
            if not sock.recv(64).startswith(b"+PONG"):
                return False
            sock.sendall(b"SHUTDOWN\r\n")
            sock.recv(64)
    except OSError:
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.socket(socket.AF_UNIX) as sock:
                sock.settimeout(1)
                sock.connect(str(path))
        except OSError:
            return True
        time.sleep(0.05)
    raise TimeoutError(f"the redis-server on {path} did not stop within {timeout:.0f} s")


@dataclass
class Task:
    """A component run as a thread of a shared process: `target(stop)` runs until `stop` is set."""

    name: str
    target: Callable[[threading.Event], None]
    thread: threading.Thread | None = None
    backoff: float = 1.0
    restart_at: float = 0.0
    started_at: float = 0.0
    # What `wharfd status` shows of it: when it last started (wall clock), restarts, how it last ended.
    started_wall: float = 0.0
    restarts: int = 0
    last_error: str | None = None

    def state(self) -> dict[str, object]:
        return {
            "name": self.name,
            "state": "running" if self.thread is not None and self.thread.is_alive() else "restarting",
            "started_at": self.started_wall,
            "restarts": self.restarts,
            "last_error": self.last_error,
        }


def tasks_state_path(run_dir: Path, pid: int) -> Path:
    """Where the process PID, running tasks (`wharfd services`), says how each is (see run_tasks)."""
    return run_dir / f"tasks-{pid}.json"


def name_os_thread(name: str) -> None:
    """Name the calling thread for the OS (`top -H`, /proc/PID/task/TID/comm, 15 bytes at most).

    Threads it starts inherit the name, so a component's CPU time in the shared process can be told
    apart from the others'.
    """
    comm = Path(f"/proc/self/task/{threading.get_native_id()}/comm")
    try:
        comm.write_bytes(name.encode()[:15])
    except OSError:
        return


def run_tasks(
    tasks: list[Task],
    say: Callable[[str], None],
    stop: threading.Event | None = None,
    state_file: Path | None = None,
) -> int:
    """Run each task in its own thread until SIGTERM or SIGINT (or `stop`), restarting any that ends.

    A task that raises or returns early is logged and started again after a growing pause, so one
    component failing leaves the others of the process serving. With `state_file`, each start and end
    of a task rewrites it: `{"pid", "tasks": [Task.state()]}`, removed on the way out.
    """
    if stop is None:
        stop = own = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: own.set())

    def body(task: Task, event: threading.Event) -> None:
        name_os_thread(task.name)
        try:
            task.target(event)
        except Exception as error:
            logging.getLogger(__name__).exception("%s failed", task.name)
            task.last_error = f"{type(error).__name__}: {error}"[:300]
        else:
            if not event.is_set():
                task.last_error = "ended on its own"

    def start(task: Task, event: threading.Event) -> None:
        task.thread = threading.Thread(target=body, args=(task, event), name=task.name, daemon=True)
        task.started_at = time.monotonic()
        task.started_wall = time.time()
        task.thread.start()
        say(f"started {task.name}")

    def record() -> None:
        if state_file is not None:
            write_private_json(state_file, {"pid": os.getpid(), "tasks": [task.state() for task in tasks]})

    for task in tasks:
        start(task, stop)
    record()
    while not stop.wait(0.2):
        now = time.monotonic()
        changed = False
        for task in tasks:
            if task.thread is not None and not task.thread.is_alive():
                if now - task.started_at > 60:
                    task.backoff = 1.0
                say(f"{task.name} stopped; restarting in {task.backoff:.0f}s")
                task.thread = None
                task.restart_at = now + task.backoff
                task.backoff = min(task.backoff * 2, MAX_BACKOFF_SECONDS)
                changed = True
            if task.thread is None and now >= task.restart_at and not stop.is_set():
                task.restarts += 1
                start(task, stop)
                changed = True
        if changed:
            record()
    deadline = time.monotonic() + 30
    for task in tasks:
        if task.thread is not None:
            task.thread.join(timeout=max(deadline - time.monotonic(), 0.1))
    if state_file is not None:
        state_file.unlink(missing_ok=True)
    return 0


def child_environment(extra: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra)
    return env


PLAN_VARIABLE = "WHARF_SUPERVISOR_PLAN"
STATE_FILE_VARIABLE = "WHARF_SUPERVISOR_STATE"


def write_private_json(path: Path, value: object) -> None:
    """Replace `path` in one rename with a 0600 file holding `value` as JSON."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(value, handle)
    os.replace(temporary, path)


def exec_supervisor(components: list[Component], env: dict[str, str], state_file: Path) -> None:
    """Replace this process (same pid, same children) with `main`, which holds only the standard library.

    The plan travels in the environment, not in argv, which any user can read.
    """
    listed = [
        {"name": c.name, "argv": c.argv, "env": c.env, "ready_socket": c.ready_socket} for c in components
    ]
    sys.stdout.flush()
    sys.stderr.flush()
    argv = [sys.executable, "-m", "wharf.platform.supervisor"]
    plan = {PLAN_VARIABLE: json.dumps(listed), STATE_FILE_VARIABLE: str(state_file)}
    os.execve(sys.executable, argv, {**env, **plan})  # noqa: S606


def main() -> int:
    """`python -m wharf.platform.supervisor`, with the plan in WHARF_SUPERVISOR_PLAN."""
    env = dict(os.environ)
    plan = json.loads(env.pop(PLAN_VARIABLE))
    state_file = env.pop(STATE_FILE_VARIABLE, None)
    components = [Component(c["name"], c["argv"], env=c["env"], ready_socket=c["ready_socket"]) for c in plan]

    def say(message: str) -> None:
        print(f"wharfd: {message}", file=sys.stderr, flush=True)

    return Supervisor(components, env, say=say, state_file=Path(state_file) if state_file else None).run()


if __name__ == "__main__":
    sys.exit(main())
