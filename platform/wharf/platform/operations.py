"""What the operator's `wharfd status` and `wharfd down` do with a running `wharfd up`.

`wharfd up` writes its state file (`Settings.supervisor_state_path`): the supervisor's pid and, for each
component, its pid, start time, restart count and last error. Status reads it and checks what the
components depend on (Redis, the Docker engine, the API, the router's nginx, free disk space); the
verdict follows Nagios: 0 OK, 1 WARNING, 2 CRITICAL.
"""

from __future__ import annotations

import json
import os
import signal
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wharf.platform.settings import Settings

OK, WARNING, CRITICAL = 0, 1, 2
VERDICTS = {OK: "OK", WARNING: "WARNING", CRITICAL: "CRITICAL"}
# A component restarted this recently makes the status a WARNING.
RECENT_RESTART_SECONDS = 15 * 60
# Free space of the data dir's filesystem under this many times the builds' floor, or under this share
# of the filesystem, makes the status a WARNING; under the floor itself (builds refused), CRITICAL.
DISK_WARNING_FLOORS = 3
DISK_WARNING_SHARE = 0.10


def _is_supervisor(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"wharf.platform.supervisor" in cmdline


def _alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def running_supervisor(state_path: Path) -> dict[str, Any] | None:
    """The state of the `wharfd up` running on this data dir, or None when none runs."""
    try:
        state: dict[str, Any] = json.loads(state_path.read_text())
    except (OSError, ValueError):
        return None
    pid = state.get("pid")
    if not isinstance(pid, int) or not _alive(pid) or not _is_supervisor(pid):
        return None
    return state


def stop_control_plane(state_path: Path, *, timeout: float = 90.0) -> int | None:
    """SIGTERM the running `wharfd up` and wait for it to exit; its pid, or None when none ran."""
    state = running_supervisor(state_path)
    if state is None:
        return None
    pid = int(state["pid"])
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.2)
    if _alive(pid):
        raise TimeoutError(f"wharfd up (pid {pid}) did not stop within {timeout:.0f} s")
    return pid


def _is_component(pid: int, name: str) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return f"wharf.platform.wharfd\0{name}\0".encode() in cmdline + b"\0"


def stop_leftover_components(state_path: Path, *, timeout: float = 30.0) -> list[str]:
    """Stop the components a `wharfd up` that is gone (killed with -9, say) left running, as
    'NAME (pid N)'; none while a `wharfd up` runs on this data dir. Its redis-server is not among them
    (`shut_down_leftover_redis` saves its data first)."""
    if running_supervisor(state_path) is not None:
        return []
    try:
        state: dict[str, Any] = json.loads(state_path.read_text())
    except (OSError, ValueError):
        return []
    leftovers: list[tuple[str, int]] = []
    for component in state.get("components", []):
        pid, name = component.get("pid"), component.get("name")
        if isinstance(pid, int) and isinstance(name, str) and _alive(pid) and _is_component(pid, name):
            leftovers.append((name, pid))
    for _, pid in leftovers:
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(_alive(pid) for _, pid in leftovers):
        time.sleep(0.2)
    for _, pid in leftovers:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
    return [f"{name} (pid {pid})" for name, pid in leftovers]


def restart_components(state_path: Path, names: tuple[str, ...]) -> list[str]:
    """SIGTERM the named components of the running `wharfd up`, which its supervisor starts again
    (reading the settings afresh); the names it signalled."""
    state = running_supervisor(state_path)
    signalled: list[str] = []
    for component in (state or {}).get("components", []):
        pid = component.get("pid")
        if component.get("name") in names and isinstance(pid, int) and _alive(pid):
            os.kill(pid, signal.SIGTERM)
            signalled.append(str(component["name"]))
    return signalled


def stop_router_nginx(router_state_dir: Path) -> int | None:
    """Stop the nginx that serves the apps from this data dir; its pid, or None when none ran."""
    from wharf.router.nginx import NginxMaster
    from wharf.router.render import RouterPaths

    nginx = NginxMaster(paths=RouterPaths(router_state_dir))
    if not nginx.adopt():
        return None
    pid = nginx.master_pid
    nginx.stop()
    return pid


@dataclass
class Check:
    name: str
    verdict: int
    detail: str


@dataclass
class ComponentStatus:
    name: str
    state: str
    pid: int | None
    uptime_seconds: int | None
    restarts: int
    last_error: str | None


@dataclass
class Status:
    verdict: int
    components: list[ComponentStatus] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "status": VERDICTS[self.verdict],
            "components": [asdict(c) for c in self.components],
            "checks": [{**asdict(c), "verdict": VERDICTS[c.verdict]} for c in self.checks],
        }


def component_statuses(
    state: dict[str, Any], now: float, run_dir: Path | None = None
) -> tuple[list[ComponentStatus], list[Check]]:
    """The supervisor's components and, for a process that runs several as threads (`services`), each
    thread as `services/NAME` (from the state file run_tasks keeps in RUN_DIR)."""
    components: list[ComponentStatus] = []
    checks: list[Check] = []
    for entry in state.get("components", []):
        pid = entry.get("pid")
        running = _alive(pid)
        name = str(entry.get("name"))
        _add(components, checks, name, entry, now, pid=pid if running else None, running=running)
        if running and run_dir is not None:
            for task in _tasks_of(run_dir, int(pid)):
                alive = task.get("state") == "running"
                _add(components, checks, f"{name}/{task.get('name')}", task, now, pid=pid, running=alive)
    return components, checks


def _add(
    components: list[ComponentStatus],
    checks: list[Check],
    name: str,
    entry: dict[str, Any],
    now: float,
    *,
    pid: int | None,
    running: bool,
) -> None:
    started = entry.get("started_at")
    restarts = int(entry.get("restarts") or 0)
    components.append(
        ComponentStatus(
            name=name,
            state="running" if running else "down",
            pid=pid,
            uptime_seconds=int(now - started) if running and started else None,
            restarts=restarts,
            last_error=entry.get("last_error"),
        )
    )
    error = entry.get("last_error")
    if not running:
        checks.append(Check(f"component {name}", CRITICAL, "not running" + (f": {error}" if error else "")))
    elif restarts and started and now - started < RECENT_RESTART_SECONDS:
        checks.append(Check(f"component {name}", WARNING, f"restarted {int(now - started)} s ago: {error}"))


def _tasks_of(run_dir: Path, pid: int) -> list[dict[str, Any]]:
    from wharf.platform.supervisor import tasks_state_path

    try:
        state = json.loads(tasks_state_path(run_dir, pid).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    if not isinstance(state, dict) or state.get("pid") != pid:
        return []
    return [task for task in state.get("tasks", []) if isinstance(task, dict)]


def overall(checks: list[Check]) -> int:
    return max((c.verdict for c in checks), default=OK)


def _redis_check(redis_url: str) -> Check:
    import redis

    client = redis.Redis.from_url(redis_url, socket_timeout=3, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.RedisError as error:
        return Check("redis", CRITICAL, f"does not answer: {error}")
    finally:
        client.close()
    return Check("redis", OK, "answers")


def _docker_check() -> Check:
    from wharf.platform.docker_daemon import engine_answers, engine_socket

    path = engine_socket()
    if path is None:
        return Check("docker", OK, "remote DOCKER_HOST: not checked")
    if engine_answers(path):
        return Check("docker", OK, f"answers on {path}")
    return Check("docker", CRITICAL, f"does not answer on {path}")


def disk_check(path: Path, build_floor_mb: int) -> Check:
    """Free space where the data dir (the database, repositories and builds) lives."""
    import shutil

    usage = shutil.disk_usage(path)
    free_mb, total_mb = usage.free // 2**20, usage.total // 2**20
    detail = f"{free_mb} MB free of {total_mb} MB in {path}"
    if free_mb < build_floor_mb:
        return Check(
            "disk", CRITICAL, f"{detail}: builds are refused under {build_floor_mb} MB; run `wharfd gc`"
        )
    if free_mb < DISK_WARNING_FLOORS * build_floor_mb or usage.free < DISK_WARNING_SHARE * usage.total:
        return Check("disk", WARNING, f"{detail}: nearly full; run `wharfd gc`")
    return Check("disk", OK, detail)


def _api_check(url: str) -> Check:
    import httpx

    try:
        answer = httpx.get(url, timeout=5)
    except httpx.HTTPError as error:
        return Check("api", CRITICAL, f"{url} does not answer: {error}")
    if answer.status_code != 200:
        return Check("api", CRITICAL, f"{url} answered {answer.status_code}")
    return Check("api", OK, f"{url} answers")


def _router_check(router_state_dir: Path) -> Check:
    from wharf.router.nginx import NginxMaster
    from wharf.router.render import RouterPaths

    nginx = NginxMaster(paths=RouterPaths(router_state_dir))
    if nginx.adopt():
        return Check("router nginx", OK, f"serving (pid {nginx.master_pid})")
    return Check("router nginx", CRITICAL, "not running: the apps do not answer")


def collect_status(settings: Settings) -> Status:
    """The status of this host's control plane and of what it depends on."""
    now = time.time()
    state = running_supervisor(settings.supervisor_state_path)
    components: list[ComponentStatus] = []
    checks: list[Check] = []
    if state is None:
        checks.append(Check("wharfd up", CRITICAL, "not running: start it with `wharfd up`"))
    else:
        checks.append(Check("wharfd up", OK, f"running (pid {state['pid']})"))
        components, component_checks = component_statuses(state, now, settings.supervisor_state_path.parent)
        checks += component_checks
    checks.append(_redis_check(settings.resolved_redis_url))
    checks.append(_docker_check())
    checks.append(_api_check(f"http://{settings.wharf_api_host}:{settings.wharf_api_port}/api/health"))
    checks.append(_router_check(settings.router_state_dir))
    checks.append(disk_check(settings.wharf_data_dir, settings.wharf_build_min_free_mb))
    return Status(verdict=overall(checks), components=components, checks=checks)
