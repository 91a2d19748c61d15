"""What the test phase adds to a push of a small app, beyond the test command's own run time (same run).

A Procfile-only app is pushed to a scratch `wharfd up`: twice without tests (the second push is the
baseline: the same app, dependencies reused), then with `environments.test.scripts.test` set to
`sleep 1`, then with the same test and a throwaway Postgres. Each push is timed from `git push` to
its exit; the test command's own run time is the second it sleeps.

Run: .venv/bin/python -m bench.test_phase_overhead  (needs Docker, git and the stack images)
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from tests.utils.e2e import Developer, new_developer, remove_developer_apps
from tests.utils.wharfd_up import WharfdUp, wait_until_served

TEST_SECONDS = 1.0
PUSHES = 3


def timed_push(developer: Developer, repo: Path, app_json: dict[str, object] | None, label: str) -> float:
    (repo / "app.json").write_text(json.dumps(app_json or {}))
    (repo / "marker.txt").write_text(f"{label} {time.time()}")
    developer.commit_all(repo, label)
    started = time.monotonic()
    done = developer.git("push", "wharf", "main", cwd=repo, check=False)
    took = time.monotonic() - started
    assert done.returncode == 0, done.stdout + done.stderr
    return took


def best_of(developer: Developer, repo: Path, app_json: dict[str, object] | None, label: str) -> float:
    return min(timed_push(developer, repo, app_json, f"{label} {n}") for n in range(PUSHES))


def main() -> None:
    tests = {"environments": {"test": {"scripts": {"test": f"sleep {TEST_SECONDS:g}"}}}}
    with_postgres = {
        "environments": {
            "test": {"scripts": {"test": f"sleep {TEST_SECONDS:g}"}, "addons": ["heroku-postgresql"]}
        }
    }
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
            baseline = best_of(developer, repo, None, "no tests")
            tested = best_of(developer, repo, tests, "tests")
            postgres = best_of(developer, repo, with_postgres, "tests with postgres")
        finally:
            remove_developer_apps(developer)
            wharfd.stop()
    overhead = tested - baseline - TEST_SECONDS
    print(f"push without tests: {baseline:.2f} s (best of {PUSHES})")
    print(f"push with a {TEST_SECONDS:g} s test: {tested:.2f} s (ratio {tested / baseline:.2f})")
    print(f"test phase overhead beyond the test's own {TEST_SECONDS:g} s: {overhead:.2f} s (goal under 3 s)")
    print(
        f"push with the test and a throwaway Postgres: {postgres:.2f} s "
        f"(the add-on's start and removal add {postgres - tested:.2f} s)"
    )


if __name__ == "__main__":
    main()
