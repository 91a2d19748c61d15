"""The test phase of a push: app.json's environments.test runs before a release goes live.

One app is pushed three times: tests that pass (with a throwaway Postgres), tests that fail, and the
failing tests pushed again with `-o ci.skip`.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import pytest

from tests.utils.e2e import Developer, Wharf, new_developer, remove_developer_apps
from tests.utils.wharf_cli import run_wharf
from tests.utils.wharfd_up import wait_until_served

pytestmark = pytest.mark.e2e

# Connects to $DATABASE_URL with the stack's libpq and runs a query, with nothing but python3.
CHECK_DATABASE = r"""
import ctypes, os, sys
pq = ctypes.CDLL("libpq.so.5")
pq.PQconnectdb.restype = ctypes.c_void_p
pq.PQexec.restype = ctypes.c_void_p
pq.PQgetvalue.restype = ctypes.c_char_p
pq.PQstatus.argtypes = pq.PQfinish.argtypes = [ctypes.c_void_p]
pq.PQexec.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
pq.PQgetvalue.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
conn = pq.PQconnectdb(os.environ["DATABASE_URL"].encode())
if pq.PQstatus(conn) != 0:
    sys.exit("no database at DATABASE_URL")
pq.PQexec(conn, b"CREATE TABLE probe (n int)")
pq.PQexec(conn, b"INSERT INTO probe VALUES (41)")
answer = pq.PQgetvalue(pq.PQexec(conn, b"SELECT n + 1 FROM probe"), 0, 0).decode()
print("database answered", answer)
pq.PQfinish(conn)
"""

PASSING_TESTS = {
    "environments": {
        "test": {
            "scripts": {
                "test-setup": "echo prepared > /tmp/setup-done",
                "test": 'test "$CI" = true && cat /tmp/setup-done && echo "greeting=$GREETING" '
                "&& python3 ci/check_database.py",
            },
            "env": {"GREETING": {"value": "hello-from-test-env"}},
            "addons": ["heroku-postgresql:in-dyno"],
        }
    }
}
FAILING_TESTS = {"environments": {"test": {"scripts": {"test": "echo 'about to fail' && exit 3"}}}}


@dataclass
class Push:
    returncode: int
    output: str


@dataclass
class TestedApp:
    __test__ = False

    developer: Developer
    name: str
    repo: Path


def push(app: TestedApp, *options: str) -> Push:
    done = app.developer.git("push", *options, "wharf", "main", cwd=app.repo, check=False)
    return Push(done.returncode, done.stdout + done.stderr)


def set_app_json(app: TestedApp, document: dict[str, Any], message: str) -> None:
    (app.repo / "app.json").write_text(json.dumps(document))
    app.developer.commit_all(app.repo, message)


def cli(app: TestedApp, *args: str) -> subprocess.CompletedProcess[str]:
    env = app.developer.env() | {
        "WHARF_API_URL": app.developer.wharf.url,
        "WHARF_API_TOKEN": app.developer.token,
    }
    return run_wharf(env, *args, "-a", app.name)


def cli_json(app: TestedApp, *args: str) -> Any:
    done = cli(app, *args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def current_release(app: TestedApp) -> dict[str, Any]:
    return next(r for r in cli_json(app, "releases") if r["current"])


@pytest.fixture(scope="module")
def tested_app(wharf: Wharf, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestedApp]:
    home = tmp_path_factory.mktemp("test-phase")
    developer = new_developer(wharf, home)
    name = developer.create_app()
    repo = developer.app_repo("procfile_only", name, home)
    (repo / "ci").mkdir()
    (repo / "ci" / "check_database.py").write_text(CHECK_DATABASE)
    yield TestedApp(developer, name, repo)
    remove_developer_apps(developer)


@pytest.fixture(scope="module")
def passing_push(tested_app: TestedApp) -> Push:
    set_app_json(tested_app, PASSING_TESTS, "tests that pass")
    return push(tested_app)


@pytest.fixture(scope="module")
def failing_push(tested_app: TestedApp, passing_push: Push, wharf: Wharf) -> Push:
    wait_until_served(wharf, tested_app.name, timeout=60)
    set_app_json(tested_app, FAILING_TESTS, "tests that fail")
    return push(tested_app)


@pytest.fixture(scope="module")
def skipped_push(tested_app: TestedApp, failing_push: Push) -> Push:
    return push(tested_app, "-o", "ci.skip")


def test_passing_tests_run_with_their_env_and_a_throwaway_postgres_then_deploy(
    tested_app: TestedApp, passing_push: Push, wharf: Wharf
) -> None:
    assert passing_push.returncode == 0, passing_push.output
    assert "remote: -----> Running tests" in passing_push.output
    assert "remote:        prepared" in passing_push.output  # test-setup ran first, in the same dyno
    assert "remote:        greeting=hello-from-test-env" in passing_push.output
    assert "remote:        database answered 42" in passing_push.output
    assert "Tests passed (test run 1)" in passing_push.output
    wait_until_served(wharf, tested_app.name, timeout=60)
    assert current_release(tested_app)["test_status"] == "succeeded"


def test_the_throwaway_database_and_its_network_are_gone_after_the_run(
    tested_app: TestedApp, passing_push: Push
) -> None:
    client = docker.from_env()
    try:
        leftovers = [
            c.name
            for c in client.containers.list(ignore_removed=True, all=True)
            if c.name.startswith(f"ci-{tested_app.name}-")
        ]
        networks = client.networks.list(names=[f"wharf-{tested_app.name}.ci1"])
        volumes = [
            v.name for v in client.volumes.list() if v.name.startswith(f"wharf-addon-ci-{tested_app.name}-")
        ]
    finally:
        client.close()
    assert (leftovers, [n.name for n in networks], volumes) == ([], [], [])


def test_failing_tests_reject_the_push_and_the_old_release_keeps_serving(
    tested_app: TestedApp, passing_push: Push, failing_push: Push, wharf: Wharf
) -> None:
    assert failing_push.returncode != 0
    assert "remote:        about to fail" in failing_push.output
    assert "Tests failed with exit code 3" in failing_push.output
    assert "pre-receive hook declined" in failing_push.output
    before = current_release(tested_app)
    assert before["test_status"] == "succeeded"
    answer = wharf.app_get(tested_app.name)
    assert answer.status_code == 200 and "Hello from a Procfile-only app" in answer.text


def test_ci_lists_the_runs_and_ci_info_shows_a_run_with_its_output(
    tested_app: TestedApp, failing_push: Push
) -> None:
    runs = cli_json(tested_app, "ci")
    assert [(r["number"], r["status"], r["exit_code"]) for r in runs[:2]] == [
        (2, "failed", 3),
        (1, "succeeded", 0),
    ]
    info = cli_json(tested_app, "ci:info", "2")
    assert "about to fail" in info["output"]
    assert info["message"] == "Tests failed with exit code 3"
    shown = cli(tested_app, "ci:info", "1")
    assert shown.returncode == 0, shown.stderr
    assert "database answered 42" in shown.stdout


def test_a_push_with_ci_skip_deploys_without_running_the_tests(
    tested_app: TestedApp, skipped_push: Push
) -> None:
    assert skipped_push.returncode == 0, skipped_push.output
    assert "about to fail" not in skipped_push.output
    assert "Tests skipped" in skipped_push.output
    runs = cli_json(tested_app, "ci")
    assert (runs[0]["number"], runs[0]["status"]) == (3, "skipped")
    assert current_release(tested_app)["test_status"] == "skipped"


def test_ci_rerun_runs_a_failed_run_again_in_its_image(tested_app: TestedApp, skipped_push: Push) -> None:
    made = cli_json(tested_app, "ci:rerun", "2")
    assert made["number"] == 4
    deadline = time.monotonic() + 120
    run = cli_json(tested_app, "ci:info", "4")
    while run["status"] in ("pending", "running") and time.monotonic() < deadline:
        time.sleep(0.5)
        run = cli_json(tested_app, "ci:info", "4")
    assert (run["status"], run["exit_code"], run["commit"]) == (
        "failed",
        3,
        cli_json(tested_app, "ci:info", "2")["commit"],
    )
    assert "about to fail" in run["output"]
    assert current_release(tested_app)["test_status"] == "skipped"  # a rerun deploys nothing
