"""A pushed app's log as its developer sees it with the real `wharf logs`: the app's own lines, the
router's and the platform's, live with --tail, kept across a redeploy and across a restart of Wharf.

The test runs its own `wharfd up` (scratch data dir, private redis) so that it can stop and start it.
"""

from __future__ import annotations

import secrets
import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import docker
import pytest

from tests.utils.e2e import Developer, Wharf, new_developer
from tests.utils.wharf_cli import Tail, run_wharf
from tests.utils.wharfd_up import WharfdUp, serving
from wharf.platform.runtime.base import LABEL_APP, LABEL_PROCESS_TYPE

pytestmark = pytest.mark.e2e
T = TypeVar("T")


@pytest.fixture
def wharfd(tmp_path: Path) -> Iterator[WharfdUp]:
    data_dir = tmp_path / "wharf-data"
    data_dir.mkdir()
    with serving(WharfdUp(data_dir)) as server:
        yield server


def eventually(check: Callable[[], T | None], timeout: float = 30.0) -> T | None:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found is not None or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def cli_env(developer: Developer) -> dict[str, str]:
    """The developer's shell: their HOME (the ~/.netrc the CLI reads the token from) and the API URL."""
    return {**developer.env(), "WHARF_API_URL": developer.wharf.url}


def shown_log(env: dict[str, str], app: str) -> list[str]:
    shown = run_wharf(env, "logs", "-a", app, "--num", "1000")
    assert shown.returncode == 0, shown.stderr
    return shown.stdout.splitlines()


def lines_with(lines: list[str], *parts: str) -> list[str]:
    return [line for line in lines if all(part in line for part in parts)]


def request(wharf: Wharf, app: str) -> tuple[str, float]:
    """A request through the router to a fresh path; returns the path and when it was sent."""
    path = f"/req-{secrets.token_hex(4)}"
    sent = time.monotonic()
    answer = eventually(
        lambda: answered if (answered := wharf.app_get(app, path)).status_code == 200 else None
    )
    assert answer is not None, f"{app} did not answer {path} through the router"
    return path, sent


def push(developer: Developer, repo: Path) -> None:
    pushed = developer.git("push", "wharf", "main", cwd=repo, check=False)
    assert pushed.returncode == 0, pushed.stdout + pushed.stderr


def redeploy(developer: Developer, repo: Path) -> None:
    """`git commit --allow-empty` and push: a new release of the same code."""
    identity = ["-c", "user.email=dev@example.com", "-c", "user.name=Dev"]
    developer.git(*identity, "commit", "--allow-empty", "-qm", "redeploy", cwd=repo)
    push(developer, repo)


def assert_request_logged(lines: list[str], path: str) -> None:
    """The app's own line and the router's line for one request, each exactly once."""
    app_lines = lines_with(lines, "app[web.", f"chatty served {path}")
    router_lines = lines_with(lines, "heroku[router]:", f'path="{path}"')
    assert len(app_lines) == 1, (path, app_lines, lines[-40:])
    assert len(router_lines) == 1, (path, router_lines, lines[-40:])
    assert "status=200" in router_lines[0], router_lines


def request_inside_dyno(app: str) -> str:
    """A request the app answers while Wharf is down: from inside its web dyno, past the router."""
    path = f"/down-{secrets.token_hex(4)}"
    url = f"'http://127.0.0.1:' + os.environ['PORT'] + '{path}'"
    fetch = f"import os, urllib.request; urllib.request.urlopen({url})"
    labels = [f"{LABEL_APP}={app}", f"{LABEL_PROCESS_TYPE}=web"]
    client = docker.from_env()
    try:
        # The previous release's dyno may still be draining; the one left is the current release's.
        dynos = eventually(
            lambda: (
                found
                if len(found := client.containers.list(ignore_removed=True, filters={"label": labels})) == 1
                else None
            )
        )
        assert dynos is not None, "the app does not have exactly one web dyno"
        code, output = dynos[0].exec_run(["python3", "-c", fetch])
        assert code == 0, output
    finally:
        client.close()
    return path


def measure_tail_delays(tail: Tail, wharf: Wharf, app: str, count: int = 5) -> list[float]:
    """Seconds from sending a request to `wharf logs --tail` printing the app's line for it."""
    delays = []
    for _ in range(count):
        path, sent = request(wharf, app)
        seen = tail.wait_for(f"chatty served {path}", timeout=15)
        assert seen is not None, f"--tail never showed the line for {path}"
        delays.append(seen[0] - sent)
        assert tail.wait_for(f'path="{path}"', timeout=15) is not None, (
            f"--tail showed no router line for {path}"
        )
    return delays


def test_pushed_app_log_is_live_and_outlives_redeploys_and_wharf_restarts(
    wharfd: WharfdUp, tmp_path: Path
) -> None:
    wharf = wharfd.wharf
    developer = new_developer(wharf, tmp_path)
    env = cli_env(developer)
    app = developer.create_app()
    repo = developer.app_repo("chatty_app", app, tmp_path)
    push(developer, repo)
    first, _ = request(wharf, app)

    lines = eventually(lambda: log if lines_with(log := shown_log(env, app), f'path="{first}"') else None)
    assert lines is not None, "the router's line for the first request never reached the log"
    assert lines_with(lines, "app[web.1]: chatty listening on"), lines
    assert_request_logged(lines, first)
    assert lines_with(lines, "app[api]: Release v2 created by", "Deploy"), lines

    tail = Tail(env, "-a", app)
    try:
        time.sleep(1.0)  # the tail is connected and past the backlog
        delays = measure_tail_delays(tail, wharf, app)
        print(f"\nrequest -> `wharf logs --tail` line: {', '.join(f'{d:.3f}s' for d in delays)}")
        assert statistics.median(delays) < 1.0, delays

        redeploy(developer, repo)
        after_deploy, _ = request(wharf, app)
        assert tail.wait_for(f"chatty served {after_deploy}") is not None, (
            "--tail lost the new release's dyno"
        )
        lines = shown_log(env, app)
        assert lines_with(lines, "app[api]: Release v3 created by"), lines
        assert len(lines_with(lines, "chatty listening on")) >= 2, "the new release's start line is missing"
        assert_request_logged(lines, first)

        print(f"wharfd up stopped in {wharfd.stop():.1f}s")
        while_down = request_inside_dyno(app)
        wharfd.start()
        after_restart, _ = request(wharf, app)
        assert tail.wait_for(f"chatty served {after_restart}", timeout=30) is not None, (
            "--tail did not pick up again after Wharf restarted"
        )
        assert tail.wait_for(f'path="{after_restart}"', timeout=15) is not None
    finally:
        tail.stop()

    assert_log_kept(env, app, [first, after_deploy, after_restart], while_down)


def assert_log_kept(env: dict[str, str], app: str, requests: list[str], while_down: str) -> None:
    """Every request's lines exactly once and the platform's lines, after a redeploy and a restart."""
    lines = eventually(
        lambda: log if lines_with(log := shown_log(env, app), f'path="{requests[-1]}"') else None
    )
    assert lines is not None, "the router's line after the restart never reached the log"
    for path in requests:
        assert_request_logged(lines, path)
    assert len(lines_with(lines, "app[web.1]: chatty served " + while_down)) == 1, (
        "a line the app printed while Wharf was down is lost"
    )
    assert lines_with(lines, "app[api]: Release v2 created by"), "platform lines were lost over the restart"
    assert lines_with(lines, "app[api]: Release v3 created by"), "platform lines were lost over the restart"
