"""Pushing again: unchanged dependencies are reused, the new source is what gets served."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import docker
import pytest

from tests.utils.e2e import Developer, Wharf

pytestmark = pytest.mark.e2e

REUSED = "nothing the buildpacks read has changed"
INSTALLED = "Installing dependencies from requirements.txt"


def push(dev: Developer, repo: Path) -> str:
    pushed = subprocess.run(
        ["git", "push", "wharf", "main"], cwd=repo, env=dev.env(), capture_output=True, text=True, timeout=900
    )
    assert pushed.returncode == 0, pushed.stdout + pushed.stderr
    return pushed.stdout + pushed.stderr


def served_text(wharf: Wharf, app: str, expected: str, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        answer = wharf.app_get(app)
        text = answer.text
        if answer.status_code == 200 and expected in text:
            return text
        time.sleep(0.3)
    return text


def owner_and_listing(image: str) -> str:
    client = docker.from_env()
    try:
        output: bytes = client.containers.run(
            image, ["sh", "-c", "stat -c %U /app /app/app.py /app/.venv/bin/python; ls -A /app"], remove=True
        )
        return output.decode()
    finally:
        client.close()


def test_source_only_push_reuses_dependencies_and_serves_the_new_source(
    wharf: Wharf, developer: Developer, tmp_path: Path
) -> None:
    app = developer.create_app()
    repo = developer.app_repo("python_requirements", app, tmp_path)
    first = push(developer, repo)
    assert INSTALLED in first and REUSED not in first, first
    assert "Hello from a Flask app" in served_text(wharf, app, "Hello from a Flask app")

    app_py = repo / "app.py"
    app_py.write_text(app_py.read_text().replace("Hello from a Flask app", "Hello from the second push"))
    (repo / "notes.txt").write_text("a file the first push did not have\n")
    developer.commit_all(repo, "source only")
    second = push(developer, repo)
    assert REUSED in second and INSTALLED not in second, second
    assert "Hello from the second push" in served_text(wharf, app, "Hello from the second push")

    builds = developer.api.get(f"/api/apps/{app}/builds").json()
    assert builds[0]["status"] == "succeeded" and builds[0]["buildpacks"] == ["Python"], builds[0]
    assert builds[0]["release"] == 3
    listing = owner_and_listing(f"wharf/{app}:v3")
    assert listing.splitlines()[:3] == ["dyno", "dyno", "dyno"], listing
    assert {".venv", ".profile.d", "app.py", "notes.txt", "Procfile"} <= set(listing.split()), listing

    # A file removed from the source is gone from the next release, even though the dependencies are reused.
    (repo / "notes.txt").unlink()
    developer.commit_all(repo, "remove notes")
    third = push(developer, repo)
    assert REUSED in third, third
    assert "notes.txt" not in owner_and_listing(f"wharf/{app}:v4").split()


def test_changed_dependencies_compile_again(wharf: Wharf, developer: Developer, tmp_path: Path) -> None:
    app = developer.create_app()
    repo = developer.app_repo("python_requirements", app, tmp_path)
    push(developer, repo)
    requirements = repo / "requirements.txt"
    requirements.write_text(requirements.read_text() + "itsdangerous==2.2.0\n")
    app_py = repo / "app.py"
    app_py.write_text(
        "import itsdangerous  # noqa: F401\n"
        + app_py.read_text().replace("Hello from a Flask app", "Hello with new dependencies")
    )
    developer.commit_all(repo, "new dependency")
    second = push(developer, repo)
    assert INSTALLED in second and REUSED not in second, second
    assert "Hello with new dependencies" in served_text(wharf, app, "Hello with new dependencies")


def test_config_change_between_pushes_compiles_again(
    wharf: Wharf, developer: Developer, tmp_path: Path
) -> None:
    app = developer.create_app()
    repo = developer.app_repo("python_requirements", app, tmp_path)
    push(developer, repo)
    developer.api.patch(f"/api/apps/{app}/config", json={"PIP_EXTRA": "1"}).raise_for_status()
    (repo / "notes.txt").write_text("changed\n")
    developer.commit_all(repo, "after a config change")
    second = push(developer, repo)
    assert INSTALLED in second and REUSED not in second, second
