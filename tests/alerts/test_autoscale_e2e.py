"""Autoscaling end to end: a pushed app on a real `wharfd up` (Docker dynos, nginx router, router
metrics), `wharf ps:autoscale web --min 1 --max 4 --p95 450`, and a step of load from closed-loop
clients. The formation grows to 4 and the p95 the clients measure falls back under the target; once the
load stops, the type goes back down to 1 in one step after the stabilization window.
`wharf ps:autoscale:log` and `wharf logs` show every change.

The autoscaler's clock is shortened (a decision every 3 s, a 20 s window, a step down every 10 s); the
metrics stay per minute, so a change follows the minute that asked for it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from tests.utils.autoscaling import (
    CLIENTS,
    FIXTURE,
    P95_TARGET_MS,
    autoscale_steps,
    autoscale_web,
    autoscaling_wharfd,
    wait_for,
    web_dynos_up,
    web_quantity,
    wharf_cli,
    wharf_json,
)
from tests.utils.e2e import Developer, new_developer
from tests.utils.load_step import LoadStep
from tests.utils.wharfd_up import WharfdUp, push_new_app, serving, wait_until_served

pytestmark = pytest.mark.e2e
WINDOW = 20.0


@pytest.fixture
def wharfd(tmp_path: Path) -> Iterator[WharfdUp]:
    data_dir = tmp_path / "wharf-data"
    data_dir.mkdir()
    with serving(autoscaling_wharfd(data_dir, interval=3, window=WINDOW, step=10)) as server:
        yield server


def test_a_load_step_scales_web_up_to_four_and_back_down_after_the_window(
    wharfd: WharfdUp, tmp_path: Path
) -> None:
    wharf = wharfd.wharf
    developer: Developer = new_developer(wharf, tmp_path)
    app = push_new_app(developer, FIXTURE, tmp_path)
    wait_until_served(wharf, app, timeout=120)
    shown = autoscale_web(developer, app)
    assert f"between 1 and 4 dynos for a p95 under {P95_TARGET_MS} ms" in shown, shown
    # Enough of a minute left for its p95 to be the loaded one.
    if time.time() % 60 > 45:
        time.sleep(61 - time.time() % 60)

    load = LoadStep(wharf.address, wharf.http_port, f"{app}.localhost", clients=CLIENTS)
    load.start()
    try:
        wait_for(lambda: (load.p95_ms(10) or 0) > P95_TARGET_MS, 60, "p95 over the target on 1 dyno")
        wait_for(lambda: web_quantity(developer, app) == 4, 240, "the formation growing to web=4")
        wait_for(lambda: web_dynos_up(developer, app) == 4, 120, "four web dynos up", poll=2)
        # The clients' own p95 over 10 s of answers that all started once the four dynos were up.
        time.sleep(10)
        wait_for(lambda: (load.p95_ms(10) or P95_TARGET_MS) < P95_TARGET_MS, 120, "p95 back under the target")
    finally:
        load.stop()
    load_ended = time.time()
    assert load.failures() == 0, [a for a in load.answers if a.status != 200][:5]

    wait_for(lambda: web_quantity(developer, app) == 1, 300, "web stepping back down to 1", poll=2)
    steps = autoscale_steps(developer, app)
    # Every recommendation of the window after the load asked for 1: one step from 4 to 1.
    assert steps == [(1, 4), (4, 1)], steps
    # The first step down waited out the window after the last loaded minute.
    downs = [
        e
        for e in wharf_json(developer, "ps:autoscale:log", "-a", app)
        if e["to_quantity"] < e["from_quantity"]
    ]
    first_down = min(datetime.fromisoformat(e["created_at"]).timestamp() for e in downs)
    assert first_down >= load_ended + WINDOW, (first_down, load_ended)
    log = wharf_cli(developer, "logs", "-a", app, "--source", "api", "--num", "1000").splitlines()
    scaled = [line for line in log if "app[autoscale]" in line and "Scaled web" in line]
    assert [line.split("Scaled web ", 1)[1].split(":")[0] for line in scaled] == [
        "from 1 to 4",
        "from 4 to 1",
    ], log
    entries = wharf_cli(developer, "ps:autoscale:log", "-a", app)
    assert "p95" in entries and "no traffic" in entries, entries
