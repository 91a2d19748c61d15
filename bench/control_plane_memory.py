"""Resident memory of the idle control plane: every process `wharfd up` started, with N apps deployed.

Starts `wharfd up` in a temporary data dir on free ports (with its private redis-server), waits until the
API answers and every component has started, signs up with the printed admin invite, creates N apps
(default 20) through the API, each with a release (a config change, so no build is needed), lets it
settle, then sums the RSS of `wharfd up` and all its descendants (Python components, redis-server, nginx
master and workers). Dynos and add-ons are Docker containers, children of containerd, not of `wharfd up`,
so they would not be counted. The stack images default to the busybox bench image so none is built.

Run: .venv/bin/python bench/control_plane_memory.py [--apps N] [--settle SECONDS]
(as root, with dockerd, nginx, redis-server and busybox-static installed)
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

BUDGET_MB = 300.0
REPO = Path(__file__).resolve().parents[1]
INVITE = re.compile(r"Admin invite code: ([0-9A-Z]{5}(?:-[0-9A-Z]{5}){3})")
BENCH_IMAGE = "wharf/bench-busybox:latest"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    return children


def process_tree(root: int) -> list[int]:
    children = children_map()
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return sorted(found)


def rss_kb(pid: int) -> int:
    """Rss from smaps_rollup (VmRSS from status when that is missing); 0 for a process gone."""
    for path, key in ((f"/proc/{pid}/smaps_rollup", "Rss:"), (f"/proc/{pid}/status", "VmRSS:")):
        try:
            for line in Path(path).read_text().splitlines():
                if line.startswith(key):
                    return int(line.split()[1])
        except OSError:
            continue
    return 0


def describe(pid: int) -> str:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    words = [a.decode(errors="replace") for a in argv if a]
    if len(words) >= 3 and words[1] == "-m":
        words = [Path(words[0]).name, *words[3:]] if words[2] == "wharf.platform.wharfd" else words
    text = " ".join(words)
    return text if len(text) <= 90 else text[:87] + "..."


def wait_until(what: str, check: object, timeout: float, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"wharfd up exited with status {process.returncode} while waiting for {what}")
        if callable(check) and check():
            return
        time.sleep(0.25)
    raise RuntimeError(f"timed out after {timeout:.0f}s waiting for {what}")


def api_answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/api/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def expected_components(log: str) -> set[str]:
    return set(re.findall(r"started ([\w.]+)", log))


def ensure_bench_image() -> None:
    """The stack-image check of `wharfd up` passes on the busybox bench image, built here if missing."""
    if subprocess.run(["docker", "image", "inspect", BENCH_IMAGE], capture_output=True).returncode == 0:
        return
    sys.path.insert(0, str(REPO))
    from bench.busybox_image import build_test_image

    build_test_image(tag=BENCH_IMAGE)


def create_apps(url: str, log_path: Path, count: int) -> list[str]:
    """Sign up with the admin invite `wharfd up` printed; each app gets a release (a config change)."""
    found = INVITE.search(log_path.read_text())
    if found is None:
        raise RuntimeError("no admin invite code in the wharfd up output")
    signup = httpx.post(
        f"{url}/api/signup",
        json={"invite": found.group(1), "email": "bench@example.com", "password": "correct horse battery"},
        timeout=30,
    )
    signup.raise_for_status()
    headers = {"Authorization": f"Bearer {signup.json()['token']}"}
    names = []
    with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
        for n in range(count):
            made = client.post("/api/apps", json={"name": f"mem-bench-{n:02d}"})
            made.raise_for_status()
            name = made.json()["name"]
            names.append(name)
            client.patch(f"/api/apps/{name}/config", json={"BENCH": "1"}).raise_for_status()
    return names


def stop(process: subprocess.Popen[bytes], env: dict[str, str], timeout: float = 45.0) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            print(f"wharfd up did not stop within {timeout:.0f}s; killing its process group")
    # Whatever is left of the tree (the whole session started for wharfd up) goes too, and the
    # router's nginx, which outlives the control plane until `wharfd down --routers`.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    subprocess.run([sys.executable, "-m", "wharf.platform.wharfd", "down", "--routers"], env=env, check=False)


def measure(root: int) -> int:
    total = 0
    print(f"{'pid':>8} {'RSS MB':>8}  command")
    for pid in process_tree(root):
        kb = rss_kb(pid)
        total += kb
        print(f"{pid:>8} {kb / 1024:8.1f}  {describe(pid)}")
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apps", type=int, default=20)
    parser.add_argument("--settle", type=float, default=10.0)
    parser.add_argument("--keep", action="store_true", help="keep the data dir")
    options = parser.parse_args()
    if "WHARF_RUN_IMAGE" not in os.environ:
        ensure_bench_image()
    data_dir = Path(tempfile.mkdtemp(prefix="wharf-mem-bench-"))
    api_port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL", "WHARF_SECRET_KEY")}
    env.update(
        WHARF_DATA_DIR=str(data_dir),
        WHARF_API_PORT=str(api_port),
        WHARF_HTTP_PORT=str(free_port()),
        WHARF_HTTPS_PORT=str(free_port()),
        WHARF_SSH_PORT=str(free_port()),
        WHARF_STATSD_PORT=str(free_port()),
        WHARF_WAKER_PORT=str(free_port()),
        WHARF_RUN_IMAGE=env.get("WHARF_RUN_IMAGE", BENCH_IMAGE),
        WHARF_BUILD_IMAGE=env.get("WHARF_BUILD_IMAGE", BENCH_IMAGE),
    )
    url = f"http://127.0.0.1:{api_port}"
    log_path = data_dir / "up.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "wharf.platform.wharfd", "up"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
            start_new_session=True,
        )
    try:
        wait_until("/api/health", lambda: api_answers(url), 120, process)
        wanted = {"api", "services", "scheduler", "router", "logshipper", "builds"}
        wait_until(
            "every component", lambda: wanted <= expected_components(log_path.read_text()), 60, process
        )
        wait_until(
            "nginx",
            lambda: any("nginx" in describe(pid) for pid in process_tree(process.pid)),
            60,
            process,
        )
        started = time.monotonic()
        apps = create_apps(url, log_path, options.apps)
        print(f"{len(apps)} apps created in {time.monotonic() - started:.1f}s")
        time.sleep(options.settle)
        if process.poll() is not None:
            raise RuntimeError(f"wharfd up exited with status {process.returncode}")
        total_kb = measure(process.pid)
        total_mb = total_kb / 1024
        restarts = log_path.read_text().count(" exited with status ")
        print(f"component restarts during the run: {restarts}")
        print(f"total {total_mb:.0f} MB, {total_mb / BUDGET_MB:.2f} x budget ({BUDGET_MB:.0f} MB)")
    except BaseException:
        print(log_path.read_text()[-4000:], file=sys.stderr)
        raise
    finally:
        stop(process, env)
        if not options.keep:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
