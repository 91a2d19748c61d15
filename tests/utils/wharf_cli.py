"""Running the installed `wharf` command as a user would, against a live API."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO


def wharf_executable() -> str:
    beside = Path(sys.executable).parent / "wharf"
    found = str(beside) if beside.exists() else shutil.which("wharf")
    assert found is not None, "the wharf command is not installed: pip install -e cli"
    return found


def cli_env(api_url: str, token: str, home: Path) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WHARF_", "GIT_"))}
    env.update(HOME=str(home), WHARF_API_URL=api_url, WHARF_API_TOKEN=token)
    return env


def run_wharf(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The command run in the user's home (cli_env's HOME), so `apps:create` never adds a git remote
    to the checkout the tests run from."""
    return subprocess.run(
        [wharf_executable(), *args],
        env=env,
        cwd=env.get("HOME"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


class Tail:
    """`wharf logs --tail` running in the background; `wait_for` reads its output as it comes."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.process = subprocess.Popen(
            [wharf_executable(), "logs", "--tail", *args],
            env=env,
            cwd=env.get("HOME"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[tuple[float, str]] = []
        self._lock = threading.Lock()
        assert self.process.stdout is not None
        self._reader = threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True)
        self._reader.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            with self._lock:
                self.lines.append((time.monotonic(), line.rstrip("\n")))

    def wait_for(self, text: str, timeout: float = 15.0) -> tuple[float, str] | None:
        """The first output line containing `text` with the time it arrived, or None."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                for arrived, line in self.lines:
                    if text in line:
                        return arrived, line
            time.sleep(0.01)
        return None

    def stop(self) -> str:
        self.process.terminate()
        try:
            _, stderr = self.process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, stderr = self.process.communicate()
        return stderr
