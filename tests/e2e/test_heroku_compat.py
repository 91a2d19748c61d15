"""Apps written for Heroku and Dokku deploy unchanged: real pushes, checked through the router and the CLI.

Two small apps on the stack's python3, each pushed once per module: a web app whose release command
writes under /app and whose app.json declares a Dokku health check, and a worker-only app whose
app.json sets its formation, generates a secret and runs a postdeploy script.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import pytest

from tests.utils.e2e import Developer, Wharf, new_developer

pytestmark = pytest.mark.e2e

WEB_SERVER = """\
import json, os, http.server
os.makedirs("/app/.npm/_logs", exist_ok=True)
open("/app/.gunicorn", "w").write("control socket stand-in")
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/health":
            body = b"ok: ready"
        else:
            body = json.dumps({
                "dyno": os.environ.get("DYNO"),
                "web_concurrency": os.environ.get("WEB_CONCURRENCY"),
                "port": os.environ.get("PORT"),
                "wrote_app": os.path.exists("/app/.gunicorn"),
                "release_file_here": os.path.exists("/app/release.test"),
            }).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
http.server.ThreadingHTTPServer(("0.0.0.0", int(os.environ["PORT"])), Handler).serve_forever()
"""
WEB_PROCFILE = """\
# Heroku's samples: a web process and a release phase that writes into the app's directory.

web: python3 server.py
release: touch /app/release.test && mkdir -p /app/staticfiles && echo "release wrote /app as $DYNO"
"""
WEB_APP_JSON = {
    "healthchecks": {"web": [{"type": "startup", "path": "/health", "content": "ready", "attempts": 5}]}
}
WORKER_PROCFILE = "worker_queue-1: python3 -u -c 'import time; [time.sleep(5) for _ in iter(int, 1)]'\n"
WORKER_APP_JSON = {
    "name": "worker only",
    "env": {
        "SECRET_KEY": {"description": "signs sessions", "generator": "secret"},
        "GREETING": {"value": "hello"},
        "OPTIONAL_TOKEN": {"required": False},
    },
    "formation": {"worker_queue-1": {"quantity": 1, "size": "standard-2x"}},
    "scripts": {"postdeploy": "echo postdeploy says $GREETING from $DYNO"},
}


def wait_for(condition: Callable[[], bool], timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return True
        except (ValueError, KeyError):
            pass
        time.sleep(0.5)
    return False


def destroy(dev: Developer, app: str) -> None:
    """Destroy the app as its owner would; whatever the scheduler has not retired yet goes by its label."""
    dev.api.delete(f"/api/apps/{app}", params={"confirm": app}).raise_for_status()
    client = docker.from_env()
    try:
        wait_for(
            lambda: (
                not client.containers.list(
                    ignore_removed=True, all=True, filters={"label": f"wharf.app={app}"}
                )
            ),
            30,
        )
        for container in client.containers.list(
            ignore_removed=True, all=True, filters={"label": f"wharf.app={app}"}
        ):
            container.remove(force=True)
    finally:
        client.close()


def wharf_cli(dev: Developer, *args: str) -> subprocess.CompletedProcess[str]:
    env = dev.env() | {"WHARF_API_URL": dev.wharf.url, "WHARF_API_TOKEN": dev.token}
    return subprocess.run(
        [str(Path(sys.executable).parent / "wharf"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def cli_json(dev: Developer, *args: str) -> object:
    done = wharf_cli(dev, *args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def make_repo(dev: Developer, app: str, path: Path, files: dict[str, str]) -> Path:
    path.mkdir()
    for name, text in files.items():
        (path / name).write_text(text)
    dev.git("init", "-q", "-b", "main", cwd=path)
    dev.commit_all(path, "first")
    dev.git("remote", "add", "wharf", f"{dev.wharf.url}/git/{app}.git", cwd=path)
    return path


def push(dev: Developer, repo: Path) -> subprocess.CompletedProcess[str]:
    return dev.git("push", "wharf", "main", cwd=repo, check=False)


@pytest.fixture(scope="module")
def dev(wharf: Wharf, tmp_path_factory: pytest.TempPathFactory) -> Developer:
    return new_developer(wharf, tmp_path_factory.mktemp("heroku-compat"))


@pytest.fixture(scope="module")
def web_app(dev: Developer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, str]]:
    app = dev.create_app()
    files = {"Procfile": WEB_PROCFILE, "server.py": WEB_SERVER, "app.json": json.dumps(WEB_APP_JSON)}
    repo = make_repo(dev, app, tmp_path_factory.mktemp("web") / "repo", files)
    pushed = push(dev, repo)
    assert pushed.returncode == 0, pushed.stderr
    yield app, repo, pushed.stderr
    destroy(dev, app)


@pytest.fixture(scope="module")
def worker_app(dev: Developer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, str]]:
    app = dev.create_app()
    files = {"Procfile": WORKER_PROCFILE, "app.json": json.dumps(WORKER_APP_JSON)}
    repo = make_repo(dev, app, tmp_path_factory.mktemp("worker") / "repo", files)
    pushed = push(dev, repo)
    assert pushed.returncode == 0, pushed.stderr
    yield app, repo, pushed.stderr
    destroy(dev, app)


def test_a_release_command_writes_under_app_and_the_web_dyno_sees_herokus_environment(
    web_app: tuple[str, Path, str], wharf: Wharf
) -> None:
    app, _repo, output = web_app

    assert "release wrote /app as release.1" in output
    assert "Checking web.1: /health" in output
    answer = wharf.app_get(app, "/")
    assert answer.status_code == 200
    assert answer.json() == {
        "dyno": "web.1",
        "web_concurrency": "2",
        "port": "5000",
        "wrote_app": True,
        "release_file_here": False,  # the release dyno's writes vanished with it, as on Heroku
    }


def test_the_apps_config_overrides_web_concurrency(
    web_app: tuple[str, Path, str], dev: Developer, wharf: Wharf
) -> None:
    app, _repo, _output = web_app

    done = wharf_cli(dev, "config:set", "WEB_CONCURRENCY=3", "-a", app)

    assert done.returncode == 0, done.stderr
    assert wait_for(lambda: wharf.app_get(app, "/").json()["web_concurrency"] == "3")


def test_a_failing_health_check_rejects_the_push_after_its_attempts_and_the_old_release_serves(
    web_app: tuple[str, Path, str], dev: Developer, wharf: Wharf
) -> None:
    app, repo, _output = web_app
    before = wharf.app_get(app, "/").json()
    failing = {
        "healthchecks": {"web": [{"path": "/health", "content": "never there", "attempts": 2, "wait": 1}]}
    }
    (repo / "app.json").write_text(json.dumps(failing))
    dev.commit_all(repo, "a check that cannot pass")

    rejected = push(dev, repo)

    assert rejected.returncode != 0
    assert "attempt 2 of 2 failed: the response does not contain 'never there'" in rejected.stderr
    assert "web.1 failed its health check /health after 2 attempts" in rejected.stderr
    assert "attempt 3" not in rejected.stderr
    answer = wharf.app_get(app, "/")
    assert answer.status_code == 200 and answer.json() == before


def test_a_worker_only_app_deploys_with_its_app_json_formation_and_no_web_dyno(
    worker_app: tuple[str, Path, str], dev: Developer
) -> None:
    app, _repo, output = worker_app

    dynos = cli_json(dev, "ps", "-a", app)

    assert isinstance(dynos, list)
    assert [(d["name"], d["state"]) for d in dynos] == [("worker_queue-1.1", "up")]
    formation = dev.api.get(f"/api/apps/{app}/formation").json()
    assert formation == [{"type": "worker_queue-1", "quantity": 1, "size": "standard"}]
    assert output.count("postdeploy says hello from postdeploy.") == 1


def test_app_json_env_fills_config_once_and_postdeploy_never_runs_again(
    worker_app: tuple[str, Path, str], dev: Developer
) -> None:
    app, repo, _output = worker_app
    first = cli_json(dev, "config", "-a", app)
    assert isinstance(first, dict)
    assert first["GREETING"] == "hello" and len(first["SECRET_KEY"]) == 64 and "OPTIONAL_TOKEN" not in first

    dev.git(
        "-c",
        "user.email=dev@example.com",
        "-c",
        "user.name=Dev",
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "again",
        cwd=repo,
    )
    again = push(dev, repo)

    assert again.returncode == 0, again.stderr
    assert "postdeploy" not in again.stderr and "from app.json" not in again.stderr
    assert cli_json(dev, "config", "-a", app) == first
