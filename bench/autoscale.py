"""Autoscaling under a step of load: the seconds from the step to a p95 under target, and from the end
of the load to the scale-down to min, against the issue's targets (3 minutes; the stabilization window
plus 2 minutes).

A pushed app on a scratch `wharfd up` whose every request takes 400 ms, 16 at a time per dyno, and 56
closed-loop clients through the router: 1400 ms or more on 1 dyno, 400 ms on 4, so a 450 ms p95 target
needs 4 dynos (`ps:autoscale web --min 1 --max 4 --p95 450`). p95 is the clients' own, over their last 10 s of
answers. The autoscaler's clock is the production one unless the flags shorten it; the figures say which.

Run: .venv/bin/python -m bench.autoscale [--window 300] [--interval 60] [--step 60]
     (needs Docker, git and the stack images; about window + 4 minutes with the defaults)
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from tests.utils import autoscaling as scenario
from tests.utils.e2e import Developer, new_developer, remove_developer_apps
from tests.utils.load_step import LoadStep
from tests.utils.wharfd_up import push_new_app, serving, wait_until_served

UP_TARGET_SECONDS = 180.0
DOWN_MARGIN_SECONDS = 120.0
P95_SECONDS = 10.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--window", type=float, default=300.0, help="stabilization window, s (default 300)")
    parser.add_argument("--interval", type=float, default=60.0, help="decision interval, s (default 60)")
    parser.add_argument("--step", type=float, default=60.0, help="least time between steps down, s (60)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        (folder / "data").mkdir()
        wharfd = scenario.autoscaling_wharfd(
            folder / "data", interval=args.interval, window=args.window, step=args.step
        )
        with serving(wharfd) as server:
            developer = new_developer(server.wharf, folder)
            try:
                app = push_new_app(developer, scenario.FIXTURE, folder)
                wait_until_served(server.wharf, app, timeout=120)
                scenario.autoscale_web(developer, app)
                run(developer, app, args)
                print(f"autoscale log (oldest first): {scenario.autoscale_steps(developer, app)}")
            finally:
                remove_developer_apps(developer)


def run(developer: Developer, app: str, args: argparse.Namespace) -> None:
    wharf = developer.wharf
    load = LoadStep(wharf.address, wharf.http_port, f"{app}.localhost", clients=scenario.CLIENTS)
    load.start()
    step = time.monotonic()
    try:
        scenario.wait_for(
            lambda: (load.p95_ms(P95_SECONDS) or 0) > scenario.P95_TARGET_MS, 60, "p95 over target", poll=0.5
        )
        over = load.p95_ms(P95_SECONDS)
        under_at = scenario.wait_for(
            lambda: (
                scenario.web_quantity(developer, app) > 1
                and (load.p95_ms(P95_SECONDS) or scenario.P95_TARGET_MS) < scenario.P95_TARGET_MS
            ),
            600,
            "p95 under target",
            poll=1,
        )
        under = load.p95_ms(P95_SECONDS)
        dynos = scenario.web_quantity(developer, app)
        time.sleep(P95_SECONDS)  # a little load on the scaled formation, as a steady state
    finally:
        load.stop()
    ended = time.monotonic()
    down_at = scenario.wait_for(
        lambda: scenario.web_quantity(developer, app) == 1, args.window + 900, "scale-down to 1", poll=1
    )
    clock = (
        "production clock"
        if (args.window, args.interval, args.step) == (300.0, 60.0, 60.0)
        else "SHORTENED clock"
    )
    print(
        f"autoscaler: decision every {args.interval:g} s, window {args.window:g} s, "
        f"step down every {args.step:g} s ({clock}); "
        f"{scenario.CLIENTS} clients, p95 target {scenario.P95_TARGET_MS} ms"
    )
    print(
        f"p95 crossing the target on 1 dyno {over:.0f} ms; on {dynos} dynos {under:.0f} ms; "
        f"failed requests {load.failures()}"
    )
    up = under_at - step
    print(
        f"step -> p95 under target: {up:.0f} s "
        f"(target <= {UP_TARGET_SECONDS:.0f} s, ratio {up / UP_TARGET_SECONDS:.2f})"
    )
    down = down_at - ended
    limit = args.window + DOWN_MARGIN_SECONDS
    print(
        f"end of load -> scaled down to min: {down:.0f} s "
        f"(target <= window + 120 = {limit:.0f} s, ratio {down / limit:.2f})"
    )


if __name__ == "__main__":
    main()
