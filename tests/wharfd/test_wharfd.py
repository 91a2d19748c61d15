"""The operator's command: `wharfd up` from an empty data dir, invites, and unsafe settings refused."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port, wait_for_http
from tests.utils.e2e import take_routers_down
from tests.utils.network import wharfd_ports
from wharf.platform.settings import DEVELOPMENT_SECRET_KEY

INVITE = re.compile(r"[0-9A-Z]{5}(?:-[0-9A-Z]{5}){3}")
WHARFD = [sys.executable, "-m", "wharf.platform.wharfd"]


def wharfd_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """`wharfd up`'s environment on DATA_DIR, with ports of its own for the listeners a test does not name."""
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL", "WHARF_SECRET_KEY")}
    env.update(wharfd_ports(), WHARF_DATA_DIR=str(data_dir))
    env.update(extra)
    return env


def test_invites_create_prints_codes_that_sign_up(tmp_path: Path) -> None:
    env = wharfd_env(tmp_path)
    made = subprocess.run(
        [*WHARFD, "invites", "create", "--count", "3", "--uses", "2", "--note", "team"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    codes = made.stdout.split()
    assert len(codes) == 3
    assert all(INVITE.fullmatch(code) for code in codes)
    assert len(set(codes)) == 3


def test_invites_create_refuses_bad_values(tmp_path: Path) -> None:
    made = subprocess.run(
        [*WHARFD, "invites", "create", "--uses", "0"],
        env=wharfd_env(tmp_path),
        capture_output=True,
        text=True,
    )
    assert made.returncode != 0
    assert "at least one use" in made.stderr


def test_published_development_key_is_refused_outside_development(tmp_path: Path) -> None:
    env = wharfd_env(tmp_path, WHARF_SECRET_KEY=DEVELOPMENT_SECRET_KEY, WHARF_ENV="production")
    result = subprocess.run([*WHARFD, "migrate"], env=env, capture_output=True, text=True)
    assert result.returncode == 1
    assert "published development key" in result.stderr
    env["WHARF_ENV"] = "development"
    assert subprocess.run([*WHARFD, "migrate"], env=env, capture_output=True).returncode == 0


def test_secret_key_is_generated_once_with_private_mode(tmp_path: Path) -> None:
    env = wharfd_env(tmp_path)
    subprocess.run([*WHARFD, "migrate"], env=env, check=True, capture_output=True)
    key_file = tmp_path / "secret.key"
    first = key_file.read_text()
    assert len(first.strip()) == 64
    assert key_file.stat().st_mode & 0o777 == 0o600
    subprocess.run([*WHARFD, "migrate"], env=env, check=True, capture_output=True)
    assert key_file.read_text() == first


@pytest.mark.e2e
def test_up_starts_everything_and_prints_an_admin_invite(tmp_path: Path) -> None:
    port = free_port()
    env = wharfd_env(
        tmp_path,
        WHARF_API_PORT=str(port),
    )
    log_path = tmp_path / "up.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen([*WHARFD, "up"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for_http(f"{url}/api/health", timeout=60, process=process)
        output = log_path.read_text()
        assert "No users yet" in output
        found = INVITE.search(output)
        assert found, output
        signup = httpx.post(
            f"{url}/api/signup",
            json={"invite": found.group(0), "email": "ops@example.com", "password": "correct horse battery"},
        )
        assert signup.status_code == 201, signup.text
        assert signup.json()["user"]["is_admin"] is True
        assert (tmp_path / "redis" / "redis.sock").exists()
        assert (tmp_path / "wharf.db").exists()
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=40)
        take_routers_down(env)
    assert process.returncode == 0
    assert not (tmp_path / "redis" / "redis.sock").exists()


@pytest.mark.e2e
def test_up_prints_no_invite_once_a_user_exists(tmp_path: Path) -> None:
    port = free_port()
    env = wharfd_env(
        tmp_path,
        WHARF_API_PORT=str(port),
    )
    process = subprocess.Popen([*WHARFD, "up"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{url}/api/health", timeout=60, process=process)
        code = INVITE.search(
            subprocess.run([*WHARFD, "invites", "create"], env=env, capture_output=True, text=True).stdout
        )
        assert code
        httpx.post(
            f"{url}/api/signup",
            json={"invite": code.group(0), "email": "a@example.com", "password": "correct horse battery"},
        ).raise_for_status()
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=40)
    again = subprocess.Popen([*WHARFD, "up"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_for_http(f"{url}/api/health", timeout=60, process=again)
        time.sleep(0.5)
    finally:
        again.send_signal(signal.SIGTERM)
        output, _ = again.communicate(timeout=40)
        take_routers_down(env)
    assert b"No users yet" not in output


@pytest.mark.e2e
def test_status_reports_every_component_and_down_stops_them(tmp_path: Path) -> None:
    port = free_port()
    http_port = free_port()
    env = wharfd_env(
        tmp_path,
        WHARF_API_PORT=str(port),
        WHARF_HTTP_PORT=str(http_port),
    )
    process = subprocess.Popen([*WHARFD, "up"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/api/health", timeout=60, process=process)
        assert httpx.get(f"http://127.0.0.1:{port}/health").json() == {"status": "ok"}
        deadline = time.monotonic() + 30
        while True:
            shown = subprocess.run([*WHARFD, "status", "--json"], env=env, capture_output=True, text=True)
            report = json.loads(shown.stdout)
            if shown.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(1)
        failing = [c for c in report["checks"] if c["verdict"] != "OK"]
        assert shown.returncode == 0, failing
        assert report["status"] == "OK"
        components = {c["name"]: c for c in report["components"]}
        assert {name for name in components if "/" not in name} == {"redis", "api", "services"}
        threads = {name for name in components if name.startswith("services/")}
        assert {"services/scheduler", "services/router", "services/logshipper"} <= threads, threads
        assert all(
            c["state"] == "running" and c["pid"] and c["uptime_seconds"] >= 0 for c in components.values()
        )
        assert {c["name"] for c in report["checks"]} >= {"redis", "docker", "api", "router nginx"}

        again = subprocess.run([*WHARFD, "up"], env=env, capture_output=True, text=True, timeout=60)
        assert again.returncode == 1
        assert "already running" in again.stderr

        down = subprocess.run([*WHARFD, "down"], env=env, capture_output=True, text=True, timeout=120)
        assert down.returncode == 0, down.stdout + down.stderr
        assert process.wait(timeout=10) == 0
        assert "keeps serving" in down.stderr
        # The data plane is still up: the router answers (404 for an unknown app) with no control plane.
        assert (
            httpx.get(f"http://127.0.0.1:{http_port}/", headers={"Host": "nope.localhost"}).status_code == 404
        )
        after = subprocess.run([*WHARFD, "status", "--json"], env=env, capture_output=True, text=True)
        assert after.returncode == 2
        assert json.loads(after.stdout)["status"] == "CRITICAL"

        routers = subprocess.run([*WHARFD, "down", "--routers"], env=env, capture_output=True, text=True)
        assert "stopped router nginx" in routers.stderr, routers.stderr
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{http_port}/", headers={"Host": "nope.localhost"})
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=40)
        take_routers_down(env)
