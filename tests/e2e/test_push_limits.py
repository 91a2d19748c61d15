"""A push larger than the operator's limit is refused with git's own clear message, before any build."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port, wait_for_http
from tests.utils.e2e import FIXTURES, PASSWORD

pytestmark = pytest.mark.e2e


@pytest.fixture
def small_limit_api(tmp_path: Path, redis_url: str) -> Iterator[tuple[str, Path]]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "WHARF_SECRET_KEY")}
    env.update(
        WHARF_DATA_DIR=str(tmp_path / "data"),
        WHARF_API_PORT=str(port),
        REDIS_URL=redis_url,
        WHARF_MAX_PUSH_BYTES=str(200_000),
    )
    subprocess.run(
        [sys.executable, "-m", "wharf.platform.wharfd", "migrate"], env=env, check=True, capture_output=True
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "wharf.platform.wharfd", "api"], env=env, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{url}/api/health", process=process)
        invite = subprocess.run(
            [sys.executable, "-m", "wharf.platform.wharfd", "invites", "create"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        token = httpx.post(
            f"{url}/api/signup",
            json={"invite": invite, "email": "big@example.com", "password": PASSWORD},
            timeout=60,
        ).json()["token"]
        home = tmp_path / "home"
        home.mkdir()
        (home / ".netrc").write_text(f"machine 127.0.0.1 login big password {token}\n")
        httpx.post(f"{url}/api/apps", json={"name": "bigapp"}, headers={"Authorization": f"Bearer {token}"})
        yield url, home
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_push_over_the_limit_is_refused(small_limit_api: tuple[str, Path], tmp_path: Path) -> None:
    url, home = small_limit_api
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "WHARF_"))}
    env.update(HOME=str(home), GIT_TERMINAL_PROMPT="0")
    repo = tmp_path / "big"
    subprocess.run(["cp", "-r", str(FIXTURES / "procfile_only"), str(repo)], check=True)
    (repo / "blob.bin").write_bytes(secrets.token_bytes(1_000_000))
    for argv in (
        ["git", "init", "-q", "-b", "main"],
        ["git", "add", "-A"],
        ["git", "-c", "user.email=a@b.c", "-c", "user.name=A", "commit", "-qm", "big"],
    ):
        subprocess.run(argv, cwd=repo, env=env, check=True)
    push = subprocess.run(
        ["git", "push", f"{url}/git/bigapp.git", "main"], cwd=repo, env=env, capture_output=True, text=True
    )
    assert push.returncode != 0
    assert "pack exceeds maximum allowed size" in push.stderr, push.stderr
    token = (home / ".netrc").read_text().split()[-1]
    builds = httpx.get(f"{url}/api/apps/bigapp/builds", headers={"Authorization": f"Bearer {token}"}).json()
    assert builds == []
