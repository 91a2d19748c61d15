"""Density: what the control plane costs with 10, 100 and 300 small apps on one host, in one run.

Starts one `wharfd up` (own data dir, own ports, private Redis and SQLite), then grows to each app count
of --apps (default 10,100,300). Each app gets one `basic` web dyno of a busybox httpd image (no build:
the release is written as a build would write it, then the formation is set through the API). At each
step it prints:
- idle CPU of every process of `wharfd up` (utime+stime from /proc over --idle-seconds), % of one core;
- their total resident memory;
- the log shipper's CPU over the same window;
- the time from `config:set` on one app to the new value served through the router (Host header);
- the time from `ps:scale web=2` to both dynos answering through the router, and back to web=1;
- the router's render-and-reload time (its own log line for the last route change).
Then a table of the steps and the growth ratios between them, flagging a figure that grew faster than
the app count. The host's CPU may be shared: the idle CPU is an upper bound.

Everything it makes is named after this run (apps `dn<token>-NNN`, their networks, containers carrying
the installation's label) and removed at the end, on failure or Ctrl-C too.

Run: .venv/bin/python -m bench.density [--apps 10,100,300] [--idle-seconds 30]
(as root, with dockerd, nginx, redis-server and busybox-static installed)
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import itertools
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import docker
import httpx
from sqlalchemy import select

from bench.busybox_image import TEST_IMAGE, build_test_image
from bench.control_plane_memory import (
    INVITE,
    REPO,
    api_answers,
    describe,
    expected_components,
    free_port,
    process_tree,
    rss_kb,
    stop,
    wait_until,
)
from wharf.platform.db import session_scope
from wharf.platform.models import App
from wharf.platform.records.releases import create_release
from wharf.platform.security.crypto import ConfigCipher

IMAGE = "wharf/bench-density:latest"
# The dyno serves its BENCH config var and its dyno name, so a change is seen through the router.
WEB = 'echo "$BENCH $DYNO" > /tmp/index.html && exec httpd -f -p $PORT -h /tmp'
LAUNCHER = '#!/bin/sh\ncd /app || exit 1\nif [ "$#" -eq 1 ]; then exec sh -c "$1"; fi\nexec "$@"\n'
SIZE = "basic"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
RELOAD_LINE = re.compile(r"router serving route table generation (\d+) \((\d+) apps\) in ([0-9.]+) s")
COMPONENTS = {"api", "services", "scheduler", "router", "logshipper", "builds"}


@dataclass
class Step:
    apps: int
    idle_cpu: float = 0.0
    rss_mb: float = 0.0
    shipper_cpu: float = 0.0
    config_set: float = 0.0
    scale_up: float = 0.0
    scale_down: float = 0.0
    reload: float = 0.0


FIGURES = (
    ("idle_cpu", "idle CPU %", "{:.2f}"),
    ("rss_mb", "RSS MB", "{:.0f}"),
    ("shipper_cpu", "shipper CPU %", "{:.2f}"),
    ("config_set", "config:set s", "{:.2f}"),
    ("scale_up", "scale web=2 s", "{:.2f}"),
    ("scale_down", "scale web=1 s", "{:.2f}"),
    ("reload", "render+reload s", "{:.3f}"),
)


def ensure_image(client: docker.DockerClient) -> None:
    """The busybox bench image with a `wharf-launch` for sh (the stack's needs bash)."""
    with contextlib.suppress(docker.errors.ImageNotFound):
        client.images.get(TEST_IMAGE)
        client.images.get(IMAGE)
        return
    build_test_image(client, TEST_IMAGE)
    with tempfile.TemporaryDirectory(prefix="wharf-density-image-") as context:
        launcher = Path(context) / "wharf-launch"
        launcher.write_text(LAUNCHER)
        launcher.chmod(0o755)
        (Path(context) / "Dockerfile").write_text(f"FROM {TEST_IMAGE}\nCOPY wharf-launch /bin/wharf-launch\n")
        client.images.build(path=context, tag=IMAGE, rm=True, forcerm=True)


def cpu_ticks(pids: list[int]) -> dict[int, int]:
    ticks = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks[pid] = int(fields[11]) + int(fields[12])
    return ticks


def thread_ticks(pids: list[int]) -> dict[tuple[int, int], tuple[str, int]]:
    """(pid, tid) -> (OS thread name, utime+stime): the services process names its components' threads."""
    ticks = {}
    for pid in pids:
        for task in Path(f"/proc/{pid}/task").glob("*"):
            try:
                name = (task / "comm").read_text().strip()
                fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            ticks[(pid, int(task.name))] = (name, int(fields[11]) + int(fields[12]))
    return ticks


def component_cpu(
    before: dict[tuple[int, int], tuple[str, int]],
    after: dict[tuple[int, int], tuple[str, int]],
    seconds: float,
) -> dict[str, float]:
    """% of one core per OS thread name over the window."""
    used: dict[str, int] = {}
    for key, (name, ticks) in after.items():
        used[name] = used.get(name, 0) + ticks - before.get(key, (name, 0))[1]
    return {name: 100.0 * value / CLOCK_TICKS / seconds for name, value in used.items()}


def percent_of_core(before: dict[int, int], after: dict[int, int], seconds: float) -> float:
    used = sum(after[pid] - before.get(pid, 0) for pid in after)
    return 100.0 * used / CLOCK_TICKS / seconds


class Density:
    """One `wharfd up` and the apps this run gives it."""

    def __init__(self, options: argparse.Namespace) -> None:
        self.options = options
        self.docker = docker.from_env()
        self.data_dir = Path(tempfile.mkdtemp(prefix="wharf-density-"))
        self.prefix = f"dn{secrets.token_hex(2)}-"
        self.apps: list[str] = []
        api_port = free_port()
        self.http_port = free_port()
        env = {
            k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL", "WHARF_SECRET_KEY")
        }
        env.update(
            WHARF_DATA_DIR=str(self.data_dir),
            WHARF_API_PORT=str(api_port),
            WHARF_HTTP_PORT=str(self.http_port),
            WHARF_HTTPS_PORT=str(free_port()),
            WHARF_SSH_PORT=str(free_port()),
            WHARF_STATSD_PORT=str(free_port()),
            WHARF_WAKER_PORT=str(free_port()),
            WHARF_MAX_APPS_PER_USER="100000",
            WHARF_RUN_IMAGE=IMAGE,
            WHARF_BUILD_IMAGE=IMAGE,
        )
        self.env = env
        self.url = f"http://127.0.0.1:{api_port}"
        self.log_path = self.data_dir / "up.log"
        self.installation = hashlib.sha256(str(self.data_dir.resolve()).encode()).hexdigest()[:16]
        self.process: subprocess.Popen[bytes] | None = None
        self.api: httpx.Client | None = None
        self.router = httpx.Client(base_url=f"http://127.0.0.1:{self.http_port}", timeout=5)

    # lifecycle

    def start(self) -> None:
        ensure_image(self.docker)
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "wharf.platform.wharfd", "up"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=REPO,
                start_new_session=True,
            )
        process = self.process
        wait_until("/api/health", lambda: api_answers(self.url), 120, process)
        wait_until("every component", lambda: expected_components(self.log()) >= COMPONENTS, 60, process)
        found = INVITE.search(self.log())
        if found is None:
            raise RuntimeError("no admin invite code in the wharfd up output")
        signup = httpx.post(
            f"{self.url}/api/signup",
            json={
                "invite": found.group(1),
                "email": "density@example.com",
                "password": "correct horse battery",
            },
            timeout=30,
        )
        signup.raise_for_status()
        self.api = httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {signup.json()['token']}"}, timeout=60
        )
        self.cipher = ConfigCipher((self.data_dir / "secret.key").read_text().strip())
        self.database_url = f"sqlite:///{self.data_dir / 'wharf.db'}"

    def cleanup(self) -> None:
        """Stop `wharfd up`, then remove exactly this run's containers and app networks."""
        if self.process is not None:
            stop(self.process, self.env)
        for container in self.docker.containers.list(
            all=True, filters={"label": f"wharf.installation={self.installation}"}
        ):
            with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                container.remove(force=True, v=True)
        for app in self.apps:
            with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                self.docker.networks.get(f"wharf-{app}").remove()
        if not self.options.keep:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def pids(self) -> list[int]:
        assert self.process is not None
        return process_tree(self.process.pid) + self.nginx_pids()

    def nginx_pids(self) -> list[int]:
        """The router's nginx, which `wharfd up` starts in its own session so that it outlives it."""
        pid_files = list((self.data_dir / "router").rglob("nginx.pid"))
        masters = [int(p.read_text().strip()) for p in pid_files if p.read_text().strip().isdigit()]
        assert self.process is not None
        inside = set(process_tree(self.process.pid))
        return [pid for master in masters if master not in inside for pid in process_tree(master)]

    # growing

    def grow(self, count: int) -> None:
        started = time.monotonic()
        names = [f"{self.prefix}{n:03d}" for n in range(len(self.apps), count)]
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(self.create_app, names))
        self.apps.extend(names)
        made = time.monotonic() - started
        self.wait_serving(names, "v1", timeout=60 + 3.0 * len(names))
        serving = time.monotonic() - started
        print(f"  {len(names)} apps created in {made:.1f} s, all serving after {serving:.1f} s")

    def create_app(self, name: str) -> None:
        assert self.api is not None
        self.api.post("/api/apps", json={"name": name}).raise_for_status()
        with session_scope(self.database_url) as session:
            app = session.scalars(select(App).where(App.name == name)).one()
            create_release(
                session=session,
                cipher=self.cipher,
                app=app,
                actor=None,
                description="Deploy bench image",
                config={"BENCH": "v1"},
                image=IMAGE,
                process_types={"web": WEB},
                status="pending",
            )
        # The first deploy gives it web=1 of the default (smallest) size, as a first push would.

    def formation(self, app: str, quantity: int) -> None:
        assert self.api is not None
        body = {"updates": [{"type": "web", "quantity": quantity, "size": SIZE}]}
        self.api.patch(f"/api/apps/{app}/formation", json=body).raise_for_status()

    def body(self, app: str) -> str:
        try:
            answer = self.router.get("/", headers={"Host": f"{app}.localhost", "Connection": "close"})
        except httpx.HTTPError:
            return ""
        return answer.text.strip() if answer.status_code == 200 else ""

    def wait_serving(self, names: list[str], value: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        waiting = list(names)
        while waiting:
            waiting = [app for app in waiting if not self.body(app).startswith(f"{value} ")]
            if not waiting:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{len(waiting)} apps not serving {value} after {timeout:.0f}s: {waiting[:5]}"
                )
            time.sleep(0.5)

    # figures

    def measure(self, count: int, round_number: int) -> Step:
        step = Step(apps=count)
        time.sleep(self.options.settle)
        pids = self.pids()
        services = [pid for pid in pids if describe(pid).endswith(" services")]
        before, threads_before = cpu_ticks(pids), thread_ticks(services)
        began = time.monotonic()
        time.sleep(self.options.idle_seconds)
        seconds = time.monotonic() - began
        after, threads_after = cpu_ticks(pids), thread_ticks(services)
        step.idle_cpu = percent_of_core(before, after, seconds)
        by_process = {describe(pid): percent_of_core(before, {pid: after[pid]}, seconds) for pid in after}
        by_component = component_cpu(threads_before, threads_after, seconds)
        step.shipper_cpu = by_component.get("logshipper", 0.0)
        busiest = sorted(by_process.items(), key=lambda item: -item[1])[:4]
        print("  idle CPU by process: " + ", ".join(f"{name} {cpu:.2f}%" for name, cpu in busiest))
        shown = sorted(by_component.items(), key=lambda item: -item[1])[:6]
        print("  services process by component: " + ", ".join(f"{name} {cpu:.2f}%" for name, cpu in shown))
        step.rss_mb = sum(rss_kb(pid) for pid in self.pids()) / 1024
        probe = self.apps[0]
        step.config_set = self.timed_config_set(probe, f"v{round_number + 1}")
        step.reload = self.last_reload()
        step.scale_up = self.timed(
            lambda: self.formation(probe, 2), lambda: self.dynos_seen(probe) == {"web.1", "web.2"}
        )
        step.scale_down = self.timed(
            lambda: self.formation(probe, 1), lambda: self.dynos_seen(probe, 12) == {"web.1"}
        )
        return step

    def timed_config_set(self, app: str, value: str) -> float:
        assert self.api is not None
        api = self.api
        return self.timed(
            lambda: api.patch(f"/api/apps/{app}/config", json={"BENCH": value}).raise_for_status(),
            lambda: self.body(app).startswith(f"{value} "),
        )

    def dynos_seen(self, app: str, tries: int = 8) -> set[str]:
        return {self.body(app).partition(" ")[2] for _ in range(tries)}

    @staticmethod
    def timed(change: Callable[[], object], done: Callable[[], bool], timeout: float = 120.0) -> float:
        started = time.monotonic()
        change()
        while not done():
            if time.monotonic() - started > timeout:
                raise RuntimeError(f"the change was not served within {timeout:.0f}s")
            time.sleep(0.02)
        return time.monotonic() - started

    def last_reload(self) -> float:
        reloads = RELOAD_LINE.findall(self.log())
        return float(reloads[-1][2]) if reloads else float("nan")


def print_table(steps: list[Step]) -> None:
    print()
    print(f"{'apps':>6} " + " ".join(f"{label:>16}" for _, label, _ in FIGURES))
    for step in steps:
        cells = [fmt.format(getattr(step, name)) for name, _, fmt in FIGURES]
        print(f"{step.apps:>6} " + " ".join(f"{cell:>16}" for cell in cells))
    for low, high in itertools.pairwise(steps):
        apps_ratio = high.apps / low.apps
        print(f"\ngrowth {high.apps}/{low.apps} (apps x{apps_ratio:.1f}):")
        for name, label, _ in FIGURES:
            before, after = getattr(low, name), getattr(high, name)
            ratio = after / before if before > 0 else float("inf")
            flag = "  <-- grows faster than the app count" if ratio > apps_ratio else ""
            print(f"  {label:>16}: x{ratio:.2f}{flag}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apps", default="10,100,300", help="app counts, rising (default 10,100,300)")
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    parser.add_argument("--settle", type=float, default=10.0, help="seconds between growing and measuring")
    parser.add_argument("--keep", action="store_true", help="keep the data dir")
    options = parser.parse_args()
    counts = [int(n) for n in options.apps.split(",")]
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    run = Density(options)
    steps: list[Step] = []
    try:
        run.start()
        for round_number, count in enumerate(counts, start=1):
            print(f"growing to {count} apps")
            run.grow(count)
            step = run.measure(count, round_number)
            steps.append(step)
            print("  " + ", ".join(f"{label} {fmt.format(getattr(step, n))}" for n, label, fmt in FIGURES))
        restarts = run.log().count(" exited with status ")
        print(f"component restarts during the run: {restarts}")
        print_table(steps)
        print("\nidle CPU is an upper bound where the host's CPU is shared with other work")
    except BaseException:
        print(run.log()[-4000:], file=sys.stderr)
        if steps:
            print_table(steps)
        raise
    finally:
        run.cleanup()


if __name__ == "__main__":
    main()
