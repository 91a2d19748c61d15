"""`wharfd status` exits 1 (WARNING) while a component restarted in the last 15 minutes, for Nagios.

The running `wharfd up` is stood in for by its state file and processes whose command lines are those
`wharfd status` looks for (the supervisor, the router's nginx on its config); the API answers from a
small HTTP server, Redis is the tests' own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from wharf.platform.settings import Settings
from wharf.router.render import RouterPaths

WHARFD = [sys.executable, "-m", "wharf.platform.wharfd"]
SLEEP = "import time; time.sleep(120)"


class HealthyApi(BaseHTTPRequestHandler):
    """The API as `wharfd status` checks it: GET /api/health answers 200."""

    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/api/health" else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """No request lines on the test's stderr."""


@dataclass
class StandIn:
    """The processes and servers that stand in for a running `wharfd up` on `data_dir`."""

    data_dir: Path
    env: dict[str, str]
    component_pids: dict[str, int]

    def write_state(self, restarted: str, seconds_ago: float) -> None:
        """The supervisor's state file: `restarted` came back `seconds_ago`, the others ran an hour."""
        now = time.time()
        components = [
            {
                "name": name,
                "pid": pid,
                "started_at": now - (seconds_ago if name == restarted else 3600),
                "restarts": 1 if name == restarted else 0,
                "last_error": "exited with status 1" if name == restarted else None,
            }
            for name, pid in self.component_pids.items()
        ]
        state = {"pid": self.component_pids["supervisor"], "started_at": now - 3600, "components": components}
        Settings(wharf_data_dir=self.data_dir).supervisor_state_path.write_text(json.dumps(state))

    def status(self) -> tuple[int, dict[str, Any]]:
        shown = subprocess.run([*WHARFD, "status", "--json"], env=self.env, capture_output=True, text=True)
        return shown.returncode, json.loads(shown.stdout)


def sleeper(*argv: str) -> subprocess.Popen[bytes]:
    """A process that sleeps with the command line `argv` (its first words are what `ps` shows)."""
    return subprocess.Popen([argv[0], "-c", SLEEP, *argv[1:]], executable=sys.executable)


@pytest.fixture
def stand_in(tmp_path: Path, redis_url: str) -> Iterator[StandIn]:
    data_dir = tmp_path / "wharf-data"
    router = RouterPaths(Settings(wharf_data_dir=data_dir).router_state_dir)
    router.state_dir.mkdir(parents=True)
    api = ThreadingHTTPServer(("127.0.0.1", 0), HealthyApi)
    threading.Thread(target=api.serve_forever, daemon=True).start()
    processes = {
        "supervisor": sleeper("python", "-m", "wharf.platform.supervisor"),
        "nginx": sleeper("nginx: master process", str(router.config)),
        "api": sleeper("wharf-api"),
        "services": sleeper("wharf-services"),
    }
    router.pid.write_text(f"{processes['nginx'].pid}\n")
    Settings(wharf_data_dir=data_dir).supervisor_state_path.parent.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "WHARF_SECRET_KEY")}
    env.update(
        WHARF_DATA_DIR=str(data_dir),
        REDIS_URL=redis_url,
        WHARF_API_HOST="127.0.0.1",
        WHARF_API_PORT=str(api.server_address[1]),
        # An engine Wharf does not start or check: the Docker check is not what this test is about.
        DOCKER_HOST="tcp://127.0.0.1:2375",
    )
    pids = {name: processes[name].pid for name in ("supervisor", "api", "services")}
    try:
        yield StandIn(data_dir, env, pids)
    finally:
        api.shutdown()
        for process in processes.values():
            process.kill()
            process.wait()


def test_a_component_restarted_minutes_ago_is_a_warning(stand_in: StandIn) -> None:
    stand_in.write_state(restarted="api", seconds_ago=120)
    code, report = stand_in.status()
    assert code == 1, report
    assert report["status"] == "WARNING"
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["component api"]["verdict"] == "WARNING"
    assert "exited with status 1" in checks["component api"]["detail"]
    assert all(c["verdict"] == "OK" for name, c in checks.items() if name != "component api")


def test_the_warning_clears_once_the_restart_is_old(stand_in: StandIn) -> None:
    stand_in.write_state(restarted="api", seconds_ago=20 * 60)
    code, report = stand_in.status()
    assert code == 0, report
    assert report["status"] == "OK"
