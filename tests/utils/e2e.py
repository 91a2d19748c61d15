"""End-to-end fixtures, shared by every test folder through tests/conftest.py.

A real `wharfd up` on a scratch data dir, and real git clients with their own HOME.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import httpx
import pytest

from tests.utils.network import REPO_ROOT, wait_for_http, wharfd_ports

INVITE = re.compile(r"[0-9A-Z]{5}(?:-[0-9A-Z]{5}){3}")
FIXTURES = REPO_ROOT / "tests" / "buildpacks" / "fixtures"
PASSWORD = "correct horse battery"


@dataclass
class Wharf:
    url: str
    data_dir: Path
    env: dict[str, str]

    @property
    def http_port(self) -> int:
        """The router's port: apps answer at http://<app>.localhost:<port>/."""
        return int(self.env["WHARF_HTTP_PORT"])

    @property
    def address(self) -> str:
        """Where the API and the router listen (loopback, or a test host's namespace address)."""
        return self.url.split("://", 1)[1].rsplit(":", 1)[0]

    def app_get(self, app: str, path: str = "/") -> httpx.Response:
        """A request to the app through the router, as a browser would make it."""
        return httpx.get(
            f"http://{self.address}:{self.http_port}{path}",
            headers={"Host": f"{app}.localhost"},
            timeout=30,
        )

    def invite(self) -> str:
        made = subprocess.run(
            [sys.executable, "-m", "wharf.platform.wharfd", "invites", "create"],
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        )
        return made.stdout.strip()


@dataclass
class Developer:
    """A user with their own HOME (so ~/.netrc is theirs) and an API token."""

    email: str
    token: str
    home: Path
    wharf: Wharf

    @property
    def api(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.wharf.url, headers={"Authorization": f"Bearer {self.token}"}, timeout=60
        )

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "WHARF_"))}
        env.update(HOME=str(self.home), GIT_TERMINAL_PROMPT="0")
        return env

    def git(self, *args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["git", *args], cwd=cwd, env=self.env(), capture_output=True, text=True, check=check
        )

    def create_app(self) -> str:
        name = f"e2e-{secrets.token_hex(4)}"
        self.api.post("/api/apps", json={"name": name}).raise_for_status()
        return name

    def commit_all(self, repo: Path, message: str) -> None:
        """Commit every change in REPO, as this developer."""
        self.git("add", "-A", cwd=repo)
        self.git(
            "-c", "user.email=dev@example.com", "-c", "user.name=Dev", "commit", "-qm", message, cwd=repo
        )

    def app_repo(self, fixture: str, app_name: str, tmp_path: Path) -> Path:
        """A git repository of a fixture app with the `wharf` remote pointing at APP_NAME."""
        repo = tmp_path / f"{fixture}-{app_name}"
        shutil.copytree(FIXTURES / fixture, repo)
        self.git("init", "-q", "-b", "main", cwd=repo)
        self.commit_all(repo, "first")
        self.git("remote", "add", "wharf", f"{self.wharf.url}/git/{app_name}.git", cwd=repo)
        return repo


def take_routers_down(env: dict[str, str]) -> None:
    """`wharfd down --routers`: the router's nginx outlives `wharfd up` until an operator stops it."""
    subprocess.run(
        [sys.executable, "-m", "wharf.platform.wharfd", "down", "--routers"],
        env=env,
        capture_output=True,
        timeout=60,
        check=True,
    )


def stop_wharfd_up(process: subprocess.Popen[bytes], env: dict[str, str], timeout: float = 60) -> None:
    """SIGTERM `wharfd up` as an operator's init system would, then take its routers down too."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    take_routers_down(env)


@pytest.fixture(scope="session")
def wharf(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Wharf]:
    """`wharfd up` as an operator runs it: defaults (SQLite, a private redis-server), a scratch data dir."""
    data_dir = tmp_path_factory.mktemp("wharf-up")
    ports = wharfd_ports()
    port = int(ports["WHARF_API_PORT"])
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "WHARF_SECRET_KEY", "REDIS_URL")}
    env.update(
        ports,
        WHARF_DATA_DIR=str(data_dir),
        # The API over HTTPS at https://localhost:<port>: the CLI is Python, whose resolver here knows
        # localhost but none of its subdomains (curl and git resolve those themselves).
        WHARF_API_HOSTNAME="localhost",
    )
    log_path = data_dir / "wharfd.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "wharf.platform.wharfd", "up"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{url}/api/health", timeout=600, process=process)
    except RuntimeError:
        process.kill()
        print(log_path.read_text())
        raise
    yield Wharf(url=url, data_dir=data_dir, env=env)
    stop_wharfd_up(process, env)
    remove_app_containers(f"sqlite:///{data_dir / 'wharf.db'}")


def remove_app_containers(database_url: str) -> None:
    """Dynos and add-ons outlive `wharfd up` by design; a test run removes those of its own apps."""
    from sqlalchemy import select

    from wharf.platform.db import session_scope
    from wharf.platform.models import App

    with session_scope(database_url) as session:
        names = set(session.scalars(select(App.name)))
    remove_containers_of(names)


def new_developer(wharf: Wharf, tmp_path: Path) -> Developer:
    email = f"dev-{secrets.token_hex(4)}@example.com"
    answer = httpx.post(
        f"{wharf.url}/api/signup", json={"invite": wharf.invite(), "email": email, "password": PASSWORD}
    )
    answer.raise_for_status()
    token = answer.json()["token"]
    home = tmp_path / f"home-{email}"
    home.mkdir()
    host = wharf.url.split("://", 1)[1].split(":")[0]
    netrc = home / ".netrc"
    netrc.write_text(f"machine {host}\n  login {email}\n  password {token}\n")
    netrc.chmod(0o600)
    return Developer(email=email, token=token, home=home, wharf=wharf)


def remove_developer_apps(developer: Developer) -> None:
    """Destroy the developer's apps, then remove their dynos and networks at once (not when wharfd stops)."""
    with developer.api as api:
        answer = api.get("/api/apps")
        # The list holds apps shared with the developer too: only their own are theirs to remove.
        listed = answer.json() if answer.status_code == 200 else []
        names = [app["name"] for app in listed if app["owner"] == developer.email]
        for name in names:
            api.request("DELETE", f"/api/apps/{name}", params={"confirm": name})
    remove_containers_of(set(names))


def remove_containers_of(names: set[str]) -> None:
    from wharf.platform.runtime.base import network_name

    if not names:
        return
    client = docker.from_env()
    try:
        for container in client.containers.list(
            ignore_removed=True, all=True, filters={"label": "wharf.app"}
        ):
            if container.labels.get("wharf.app") in names:
                # The scheduler may be removing it at the same moment.
                with contextlib.suppress(docker.errors.NotFound):
                    container.remove(force=True)
        for name in names:
            for network in client.networks.list(names=[network_name(name)]):
                with contextlib.suppress(docker.errors.APIError):
                    network.remove()
    finally:
        client.close()


@pytest.fixture
def developer(wharf: Wharf, tmp_path: Path) -> Iterator[Developer]:
    """A developer whose apps, dynos and networks are removed after the test."""
    made = new_developer(wharf, tmp_path)
    yield made
    remove_developer_apps(made)
