"""An app under autoscaling on a real `wharfd up`: the settings that shorten its clock, and what a
developer reads back (the formation, `wharf ps`, `wharf ps:autoscale:log`, `wharf logs`)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.utils.e2e import Developer
from tests.utils.wharf_cli import cli_env, run_wharf
from tests.utils.wharfd_up import WharfdUp

# Every request of the fixture app takes SERVICE_MS and each dyno serves CONCURRENCY at once, the others
# waiting their turn. CLIENTS closed-loop clients keep 3.5 requests per slot of one dyno: at least
# 3.5 * 400 = 1400 ms on 1 dyno, so a 450 ms target asks for ceil(1400 / 450) = 4 dynos from 1; on 4 the
# 56 requests fit in the 64 slots and take the service time (the target leaves 50 ms for the router and
# an unbalanced round robin).
FIXTURE = "autoscale_app"
SERVICE_MS = 400
CONCURRENCY = 16
CLIENTS = 56
P95_TARGET_MS = 450


def autoscaling_wharfd(data_dir: Path, *, interval: float, window: float, step: float) -> WharfdUp:
    """`wharfd up` whose autoscaler decides every INTERVAL s, with a WINDOW s window and STEP s steps down."""
    return WharfdUp(
        data_dir,
        settings={
            "WHARF_AUTOSCALE_INTERVAL_SECONDS": str(interval),
            "WHARF_AUTOSCALE_DOWN_WINDOW_SECONDS": str(window),
            "WHARF_AUTOSCALE_DOWN_STEP_SECONDS": str(step),
        },
    )


def wharf_cli(developer: Developer, *args: str) -> str:
    done = run_wharf(cli_env(developer.wharf.url, developer.token, developer.home), *args)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def wharf_json(developer: Developer, *args: str) -> Any:
    return json.loads(wharf_cli(developer, *args, "--json"))


def autoscale_web(developer: Developer, app: str) -> str:
    """`wharf ps:autoscale web --min 1 --max 4 --p95 <target>ms`, as a developer types it."""
    return wharf_cli(
        developer, "ps:autoscale", "web", "-a", app, "--min", "1", "--max", "4", "--p95", f"{P95_TARGET_MS}ms"
    )


def web_quantity(developer: Developer, app: str) -> int:
    with developer.api as api:
        rows = api.get(f"/api/apps/{app}/formation").raise_for_status().json()
    return next((int(row["quantity"]) for row in rows if row["type"] == "web"), 0)


def web_dynos_up(developer: Developer, app: str) -> int:
    dynos = wharf_json(developer, "ps", "-a", app)
    return sum(1 for dyno in dynos if dyno["type"] == "web" and dyno["state"] == "up")


def autoscale_steps(developer: Developer, app: str) -> list[tuple[int, int]]:
    """`wharf ps:autoscale:log`'s changes, oldest first."""
    entries = wharf_json(developer, "ps:autoscale:log", "-a", app)
    return [(int(e["from_quantity"]), int(e["to_quantity"])) for e in reversed(entries)]


def wait_for(check: Callable[[], bool], timeout: float, what: str, poll: float = 1.0) -> float:
    """Until CHECK holds (a state, not a speed: TIMEOUT is generous); the monotonic time it held."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what}: not within {timeout:.0f} s"
        time.sleep(poll)
    return time.monotonic()
