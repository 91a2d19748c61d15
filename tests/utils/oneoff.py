"""One-off dynos through the installed `wharf run`, against a `wharfd up` and an app pushed once."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker

from tests.utils.e2e import Developer, Wharf, new_developer
from tests.utils.wharf_cli import wharf_executable

ATTACHED_LABEL = "wharf.attached=1"


@dataclass
class PushedApp:
    developer: Developer
    name: str

    def env(self, developer: Developer | None = None) -> dict[str, str]:
        dev = developer or self.developer
        return dev.env() | {"WHARF_API_URL": dev.wharf.url, "WHARF_API_TOKEN": dev.token}

    def run_argv(self, *command: str, flags: tuple[str, ...] = ()) -> list[str]:
        return [wharf_executable(), "run", "-a", self.name, *flags, "--", *command]

    def run(
        self, *command: str, stdin: Any = subprocess.DEVNULL, input: bytes | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[bytes]:
        """`wharf run` with stdin from /dev/null (default) or a pipe (`input`), output captured apart."""
        return subprocess.run(
            self.run_argv(*command),
            env=self.env(),
            stdin=None if input is not None else stdin,
            input=input,
            capture_output=True,
            timeout=timeout,
            check=False,
        )


def push_procfile_app(wharf: Wharf, home: Path, developer: Developer | None = None) -> PushedApp:
    """A developer (new unless given) and an app of the Procfile-only fixture, pushed.

    The fixture runs the stack's python3 with no buildpack compile, so the push is quick.
    """
    developer = developer or new_developer(wharf, home)
    name = developer.create_app()
    repo = developer.app_repo("procfile_only", name, home)
    push = developer.git("push", "wharf", "main", cwd=repo, check=False)
    assert push.returncode == 0, push.stderr
    return PushedApp(developer=developer, name=name)


def run_in_terminal(argv: list[str], env: dict[str, str], timeout: float = 120) -> tuple[int, bytes]:
    """Run with stdin, stdout and stderr on a new pseudo-terminal, as from an interactive shell."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        argv, env=env, stdin=terminal, stdout=terminal, stderr=terminal, start_new_session=True
    )
    os.close(terminal)
    output = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([controller], [], [], 0.2)
            if ready:
                try:
                    data = os.read(controller, 65536)
                except OSError:  # the terminal closed: every process on it is gone
                    break
                if not data:
                    break
                output += data
            elif process.poll() is not None:
                break
        return process.wait(timeout=max(deadline - time.monotonic(), 1)), bytes(output)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(controller)


def attached_dynos(app: str) -> list[str]:
    """Names of the app's attached one-off dyno containers that exist now, running or not."""
    client = docker.from_env()
    try:
        containers = client.containers.list(
            all=True, ignore_removed=True, filters={"label": [f"wharf.app={app}", ATTACHED_LABEL]}
        )
        return [container.name or "" for container in containers]
    finally:
        client.close()


def wait_until(condition: Any, timeout: float, interval: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return bool(condition())
