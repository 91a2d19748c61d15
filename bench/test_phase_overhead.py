"""What the test phase adds to a push of a small app, beyond the test command's own run time (same run).

A Procfile-only app is pushed to a scratch `wharfd up`, interleaving pushes without tests, with
`environments.test.scripts.test` set to `sleep 1`, and with that test and a throwaway Postgres. Each push
is timed from `git push` to its exit, and its test phase from the arrival of the last build line before it
to the "Tests passed" line; the test command's own run time is the second it sleeps.

Run: .venv/bin/python -m bench.test_phase_overhead  (needs Docker, git and the stack images)
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from statistics import median

from tests.utils.e2e import Developer, new_developer, remove_developer_apps, take_routers_down
from tests.utils.wharfd_up import WharfdUp, wait_until_served

TEST_SECONDS = 1.0
PUSHES = 3


@dataclass
class TimedPush:
    seconds: float
    lines: list[tuple[float, str]]

    def phase_seconds(self) -> float:
        """From the last line before the test phase to the line saying the tests passed."""
        start = next(i for i, (_, line) in enumerate(self.lines) if "-----> Running tests" in line)
        end = next(t for t, line in self.lines if "Tests passed" in line)
        return end - self.lines[start - 1][0]


def timed_push(developer: Developer, repo: Path, app_json: dict[str, object] | None, label: str) -> TimedPush:
    """One push, with the time each `remote:` line reached the pusher."""
    (repo / "app.json").write_text(json.dumps(app_json or {}))
    (repo / "marker.txt").write_text(f"{label} {time.time()}")
    developer.commit_all(repo, label)
    started = time.monotonic()
    process = subprocess.Popen(
        ["git", "push", "wharf", "main"], cwd=repo, env=developer.env(), stderr=subprocess.PIPE, text=True
    )
    assert process.stderr is not None
    lines = [(time.monotonic(), line.rstrip()) for line in process.stderr]
    assert process.wait() == 0, "\n".join(line for _, line in lines)
    return TimedPush(time.monotonic() - started, lines)


def main() -> None:
    test = {"scripts": {"test": f"sleep {TEST_SECONDS:g}"}}
    tests = {"environments": {"test": test}}
    with_postgres = {"environments": {"test": {**test, "addons": ["heroku-postgresql"]}}}
    plain: list[TimedPush] = []
    tested: list[TimedPush] = []
    postgres: list[TimedPush] = []
    with tempfile.TemporaryDirectory(prefix="wharf-bench-") as scratch:
        root = Path(scratch)
        (root / "data").mkdir()
        wharfd = WharfdUp(root / "data")
        wharfd.start()
        developer = new_developer(wharfd.wharf, root)
        try:
            app = developer.create_app()
            repo = developer.app_repo("procfile_only", app, root)
            timed_push(developer, repo, None, "first deploy")
            wait_until_served(wharfd.wharf, app, timeout=120)
            for n in range(PUSHES):  # interleaved, so that the machine's load falls on all three alike
                plain.append(timed_push(developer, repo, None, f"no tests {n}"))
                tested.append(timed_push(developer, repo, tests, f"tests {n}"))
                postgres.append(timed_push(developer, repo, with_postgres, f"tests with postgres {n}"))
        finally:
            remove_developer_apps(developer)
            wharfd.stop()
            take_routers_down(wharfd.wharf.env)
    baseline = median(p.seconds for p in plain)
    with_test = median(p.seconds for p in tested)
    phase = median(p.phase_seconds() for p in tested)
    phase_postgres = median(p.phase_seconds() for p in postgres)
    print(
        f"push without tests: {baseline:.2f} s; with a {TEST_SECONDS:g} s test: {with_test:.2f} s "
        f"(ratio {with_test / baseline:.2f}; medians of {PUSHES}, interleaved)"
    )
    print(f"test phase as the pusher sees it: {phase:.2f} s, of which the test itself {TEST_SECONDS:g} s")
    print(
        f"test phase overhead beyond the test's own run time: {phase - TEST_SECONDS:.2f} s (goal under 3 s)"
    )
    print(
        f"with a throwaway Postgres: {phase_postgres - TEST_SECONDS:.2f} s beyond the test "
        f"(the add-on's start and removal: {phase_postgres - phase:.2f} s)"
    )


if __name__ == "__main__":
    main()
