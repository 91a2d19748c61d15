"""Runs Wharf's components as child processes in the foreground, for `wharfd up`.

A component that exits is started again after a growing pause; Ctrl-C or SIGTERM stops them all.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

MAX_BACKOFF_SECONDS = 30.0


@dataclass
class Component:
    name: str
    argv: list[str]
    process: subprocess.Popen[bytes] | None = None
    backoff: float = 1.0
    restart_at: float = 0.0
    started_at: float = field(default=0.0)


def component_argv(name: str) -> list[str]:
    return [sys.executable, "-m", "wharf.platform.wharfd", name]


class Supervisor:
    def __init__(self, components: list[Component], env: dict[str, str], say: Callable[[str], None]) -> None:
        self._components = components
        self._env = env
        self._say = say
        self._stopping = False

    def _start(self, component: Component) -> None:
        component.process = subprocess.Popen(component.argv, env=self._env)
        component.started_at = time.monotonic()
        self._say(f"started {component.name} (pid {component.process.pid})")

    def _stop_signal(self, signum: int, _frame: object) -> None:
        self._stopping = True

    def run(self) -> int:
        signal.signal(signal.SIGINT, self._stop_signal)
        signal.signal(signal.SIGTERM, self._stop_signal)
        for component in self._components:
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
            component.restart_at = now + component.backoff
            component.backoff = min(component.backoff * 2, MAX_BACKOFF_SECONDS)
        if component.process is None and now >= component.restart_at:
            self._start(component)

    def stop_all(self, timeout: float = 30.0) -> None:
        running = [c.process for c in self._components if c.process is not None and c.process.poll() is None]
        for process in running:
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for process in running:
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                process.kill()
        self._say("stopped")


def child_environment(extra: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra)
    return env
