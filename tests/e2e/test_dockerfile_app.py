"""An app with a Dockerfile is built with docker build and runs like any other release."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.utils.e2e import Developer, Wharf

pytestmark = pytest.mark.e2e


def test_dockerfile_app_builds_and_answers(wharf: Wharf, developer: Developer, tmp_path: Path) -> None:
    app = developer.create_app()
    repo = developer.app_repo("dockerfile_app", app, tmp_path)
    push = developer.git("push", "wharf", "main", cwd=repo, check=False)
    assert push.returncode == 0, push.stderr
    assert "Dockerfile app detected" in push.stderr
    assert "Released v2" in push.stderr
    build = developer.api.get(f"/api/apps/{app}/builds").json()[0]
    assert build["buildpacks"] == ["dockerfile"]
    assert build["status"] == "succeeded"
    deadline = time.monotonic() + 30
    answer = wharf.app_get(app)
    while answer.status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.3)
        answer = wharf.app_get(app)
    assert answer.status_code == 200
    assert "Hello from a Dockerfile app" in answer.text
    dynos = developer.api.get(f"/api/apps/{app}/dynos").json()
    assert [d["name"] for d in dynos if d["state"] == "up"] == ["web.1"]
