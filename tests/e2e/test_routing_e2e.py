"""A pushed app answers through the router, with maintenance mode, custom domains and no-dyno pages."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.utils.e2e import Developer, Wharf

pytestmark = pytest.mark.e2e


def eventually(
    check: Callable[[], httpx.Response], predicate: Callable[[httpx.Response], bool]
) -> httpx.Response:
    deadline = time.monotonic() + 20
    while True:
        answer = check()
        if predicate(answer) or time.monotonic() > deadline:
            return answer
        time.sleep(0.2)


def test_pushed_app_is_served_through_the_router(wharf: Wharf, developer: Developer, tmp_path: Path) -> None:
    app = developer.create_app()
    repo = developer.app_repo("procfile_only", app, tmp_path)
    push = developer.git("push", "wharf", "main", cwd=repo, check=False)
    assert push.returncode == 0, push.stderr
    answer = eventually(lambda: wharf.app_get(app), lambda r: r.status_code == 200)
    assert answer.status_code == 200
    assert "Hello from a Procfile-only app" in answer.text

    developer.api.patch(f"/api/apps/{app}", json={"maintenance": True}).raise_for_status()
    down = eventually(lambda: wharf.app_get(app), lambda r: r.status_code == 503)
    assert down.status_code == 503
    assert "maintenance" in down.text.lower()
    developer.api.patch(f"/api/apps/{app}", json={"maintenance": False}).raise_for_status()
    assert eventually(lambda: wharf.app_get(app), lambda r: r.status_code == 200).status_code == 200

    host = f"www.{app}.example.test"
    developer.api.post(f"/api/apps/{app}/domains", json={"hostname": host}).raise_for_status()
    url = f"http://127.0.0.1:{wharf.http_port}/"
    custom = eventually(
        lambda: httpx.get(url, headers={"Host": host}, timeout=10), lambda r: r.status_code == 200
    )
    assert "Hello from a Procfile-only app" in custom.text

    developer.api.patch(f"/api/apps/{app}/formation", json={"updates": [{"type": "web", "quantity": 0}]})
    idle = eventually(lambda: wharf.app_get(app), lambda r: r.status_code == 503)
    assert idle.status_code == 503
    assert "no web dynos" in idle.text.lower() or "H14" in idle.text


def test_unknown_host_gets_the_wharf_404_page(wharf: Wharf) -> None:
    answer = wharf.app_get("no-such-app-here")
    assert answer.status_code == 404
    assert "wharf" in answer.text.lower()
