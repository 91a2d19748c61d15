"""Router: what a route change costs with 10, 100 and 300 apps, in one run.

Usage: .venv/bin/python -m bench.router_reload [--apps 10,100,300] [--rounds 5]   (nginx installed)

Runs the router's own controller against a private nginx, with a local certificate for every app's
default hostname as `wharfd up` serves them, and for each app count prints the median of --rounds:
  - a new app (the config's structure changes: render, nginx -t, reload);
  - a change of dynos alone, as a deploy or `ps:scale` makes (render and reload, no nginx -t),
    against the same change with nginx -t forced (the baseline, same run);
  - an idle resync that finds the same table (nothing rendered), against a render of that table;
and the growth of each figure against the smallest app count (a figure that grows faster than the app
count is flagged).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from unittest import mock

from bench._scheduler_bench import private_redis
from tests.utils.network import free_port
from wharf.platform.security.authority import ensure_authority
from wharf.platform.security.leaves import LocalCertificates
from wharf.router import controller as controller_module
from wharf.router.controller import RouterController
from wharf.router.nginx import NginxMaster
from wharf.router.render import RouterPaths, RouterSettings, render_nginx_config
from wharf.router.routes import AppRoute, Backend, RouteTable


@dataclass
class Figures:
    apps: int
    new_app: float = 0.0
    dynos_changed: float = 0.0
    dynos_changed_checked: float = 0.0
    idle_resync: float = 0.0
    render: float = 0.0


def table(generation: int, apps: int, *, port: int = 5000, extra: int = 0) -> RouteTable:
    routes = [
        AppRoute(
            app=f"app{i:03d}",
            backends=(Backend("web.1", f"10.{i // 250}.{i % 250}.2", port if i == 0 else 5000),),
        )
        for i in range(apps + extra)
    ]
    return RouteTable(generation=generation, apps=tuple(routes))


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


@contextmanager
def router(folder: Path) -> Iterator[RouterController]:
    authority = ensure_authority(folder / "data")
    paths = RouterPaths(folder / "router")
    paths.create()
    stack = ExitStack()
    settings = RouterSettings(http_port=free_port(), https_port=free_port(), worker_processes=1)
    redis_client = stack.enter_context(private_redis(folder))
    controller = RouterController(
        redis=redis_client,
        settings=settings,
        paths=paths,
        nginx=NginxMaster(paths=paths),
        certificate_source=LocalCertificates(
            intermediate=authority.intermediate, folder=paths.local_certificates
        ),
    )
    try:
        yield controller
    finally:
        controller.nginx.stop()
        stack.close()
        shutil.rmtree(paths.public_dir, ignore_errors=True)


def measure(apps: int, rounds: int, folder: Path) -> Figures:
    figures = Figures(apps=apps)
    with router(folder) as controller:
        generation = 1
        controller.apply(table(generation, apps))
        samples: dict[str, list[float]] = {name: [] for name in ("new", "dynos", "checked", "idle", "render")}
        for round_ in range(rounds):
            generation += 1
            samples["new"].append(timed(partial(controller.apply, table(generation, apps, extra=1))))
            generation += 1
            controller.apply(table(generation, apps))
            generation += 1
            samples["dynos"].append(
                timed(partial(controller.apply, table(generation, apps, port=6000 + round_)))
            )
            generation += 1
            with mock.patch.object(controller_module, "only_backends_differ", lambda *_: False):
                samples["checked"].append(
                    timed(partial(controller.apply, table(generation, apps, port=7000 + round_)))
                )
            samples["idle"].append(timed(lambda: controller.apply(controller.table)))
            served, api_cert = controller._with_default_certificates(controller.table)
            samples["render"].append(
                timed(
                    partial(
                        render_nginx_config,
                        served,
                        controller.settings,
                        controller.paths,
                        instance=controller.instance,
                        api_cert=api_cert,
                    )
                )
            )
    figures.new_app = statistics.median(samples["new"])
    figures.dynos_changed = statistics.median(samples["dynos"])
    figures.dynos_changed_checked = statistics.median(samples["checked"])
    figures.idle_resync = statistics.median(samples["idle"])
    figures.render = statistics.median(samples["render"])
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apps", default="10,100,300")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    counts = [int(count) for count in args.apps.split(",")]
    results: list[Figures] = []
    for apps in counts:
        with tempfile.TemporaryDirectory(prefix="wharf-router-reload-") as folder:
            figures = measure(apps, args.rounds, Path(folder))
        results.append(figures)
        print(
            f"{apps:4d} apps: new app {figures.new_app:.3f} s; dynos changed {figures.dynos_changed:.3f} s"
            f" (with nginx -t {figures.dynos_changed_checked:.3f} s, ratio"
            f" {figures.dynos_changed / figures.dynos_changed_checked:.2f}); idle resync"
            f" {figures.idle_resync * 1000:.1f} ms (a render {figures.render * 1000:.0f} ms, ratio"
            f" {figures.idle_resync / figures.render:.3f})",
            flush=True,
        )
    base = results[0]
    for figures in results[1:]:
        scale = figures.apps / base.apps
        for name in ("new_app", "dynos_changed", "idle_resync"):
            growth = getattr(figures, name) / getattr(base, name)
            flag = "  <-- grew faster than the app count" if growth > scale else ""
            print(f"growth {figures.apps}/{base.apps} apps (x{scale:.0f}): {name} x{growth:.1f}{flag}")


if __name__ == "__main__":
    main()
