"""`git push` deploys through the scheduler: the push waits for the launch, `ps` and `run` see dynos."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from tests.utils.busybox_dynos import http_get
from tests.utils.e2e import Developer

pytestmark = pytest.mark.e2e


def wharf_cli(dev: Developer, *args: str) -> subprocess.CompletedProcess[str]:
    env = dev.env() | {"WHARF_API_URL": dev.wharf.url, "WHARF_API_TOKEN": dev.token}
    return subprocess.run(
        [str(Path(sys.executable).parent / "wharf"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def remove_dynos(app: str) -> None:
    client = docker.from_env()
    for container in client.containers.list(
        ignore_removed=True, all=True, filters={"label": f"wharf.app={app}"}
    ):
        container.remove(force=True)
    client.close()


@pytest.fixture
def pushed_app(developer: Developer, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    app = developer.create_app()
    repo = developer.app_repo("procfile_only", app, tmp_path)
    yield app, repo
    remove_dynos(app)


def test_push_waits_for_the_deploy_and_the_app_answers(
    developer: Developer, pushed_app: tuple[str, Path]
) -> None:
    app, repo = pushed_app
    push = developer.git("push", "wharf", "main", cwd=repo, check=False)
    assert push.returncode == 0, push.stderr
    assert "Launching..." in push.stderr and "Deployed v2" in push.stderr
    ps = wharf_cli(developer, "ps", "-a", app, "--json")
    assert ps.returncode == 0, ps.stderr
    dynos = json.loads(ps.stdout)
    assert [(d["name"], d["state"], d["release"]) for d in dynos] == [("web.1", "up", 2)]
    container = docker.from_env().containers.list(ignore_removed=True, filters={"label": f"wharf.app={app}"})[
        0
    ]
    address = next(iter(container.attrs["NetworkSettings"]["Networks"].values()))["IPAddress"]
    assert http_get((address, 5000), patience=30)[0] == 200
    app_row = developer.api.get(f"/api/apps/{app}").json()
    assert app_row["current_release"] == 2


def test_run_returns_the_commands_exit_code(developer: Developer, pushed_app: tuple[str, Path]) -> None:
    app, repo = pushed_app
    assert developer.git("push", "wharf", "main", cwd=repo, check=False).returncode == 0
    done = wharf_cli(developer, "run", "-a", app, "echo hello from $DYNO; exit 7")
    assert done.returncode == 7, done.stderr
    assert "hello from run." in done.stdout


def test_a_failing_release_phase_rejects_the_push(developer: Developer, pushed_app: tuple[str, Path]) -> None:
    app, repo = pushed_app
    assert developer.git("push", "wharf", "main", cwd=repo, check=False).returncode == 0
    procfile = repo / "Procfile"
    procfile.write_text(procfile.read_text().rstrip("\n") + "\nrelease: echo migrating; exit 3\n")
    developer.git(
        "-c", "user.email=d@example.com", "-c", "user.name=D", "commit", "-qam", "release", cwd=repo
    )
    push = developer.git("push", "wharf", "main", cwd=repo, check=False)
    assert push.returncode != 0
    assert "migrating" in push.stderr and "exit code 3" in push.stderr
    assert "v2 keeps serving" in push.stderr
    assert developer.api.get(f"/api/apps/{app}").json()["current_release"] == 2
