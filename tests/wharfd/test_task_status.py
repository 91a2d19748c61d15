"""`wharfd status` shows the components that share the services process one by one: a thread that
failed is CRITICAL while it waits to start again, then a WARNING naming its last error, and the
state file it is read from goes with the process."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

from wharf.platform.operations import CRITICAL, WARNING, component_statuses, overall
from wharf.platform.supervisor import Task, run_tasks, tasks_state_path


def _status(run_dir: Path) -> tuple[dict[str, tuple[str, int, str | None]], int]:
    state = {"components": [{"name": "services", "pid": os.getpid(), "started_at": time.time() - 60}]}
    components, checks = component_statuses(state, time.time(), run_dir)
    shown = {c.name: (c.state, c.restarts, c.last_error) for c in components}
    return shown, overall(checks)


def _until(check: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not (callable(check) and check()):
        assert time.monotonic() < deadline, "not within the time"
        time.sleep(0.05)


def test_a_failed_thread_of_the_services_process_is_shown_by_name_with_its_error(tmp_path: Path) -> None:
    stop = threading.Event()
    calls: list[int] = []
    state_file = tasks_state_path(tmp_path, os.getpid())

    def flaky(stopped: threading.Event) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("redis went away")
        stopped.wait()

    def steady(stopped: threading.Event) -> None:
        stopped.wait()

    tasks = [Task("scheduler", flaky), Task("router", steady)]
    runner = threading.Thread(target=run_tasks, args=(tasks, lambda _line: None, stop, state_file))
    runner.start()
    try:
        _until(lambda: _status(tmp_path)[0].get("services/scheduler", ("",))[0] == "down")
        shown, verdict = _status(tmp_path)
        assert shown["services/scheduler"] == ("down", 0, "ConnectionError: redis went away")
        assert shown["services/router"] == ("running", 0, None)
        assert verdict == CRITICAL

        _until(lambda: _status(tmp_path)[0]["services/scheduler"][0] == "running")
        shown, verdict = _status(tmp_path)
        assert shown["services/scheduler"] == ("running", 1, "ConnectionError: redis went away")
        assert verdict == WARNING
        assert json.loads(state_file.read_text())["pid"] == os.getpid()
        assert state_file.stat().st_mode & 0o777 == 0o600
    finally:
        stop.set()
        runner.join(timeout=30)
    assert not state_file.exists()
    assert set(_status(tmp_path)[0]) == {"services"}
