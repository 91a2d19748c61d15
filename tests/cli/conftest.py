"""Fixtures for the CLI's fast tests: an isolated home directory and an in-memory API behind
httpx.MockTransport, driven through Typer's CliRunner."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx
import pytest
from typer.testing import CliRunner, Result

from wharf.cli import session
from wharf.cli.main import app as cli_app

FAKE_URL = "http://wharf.test:5000"


@dataclass
class FakeApi:
    """Just enough of docs/api.md to exercise the commands; answers with the documented shapes."""

    tokens: dict[str, str] = field(default_factory=lambda: {"tok-alice": "alice@example.com"})
    passwords: dict[str, str] = field(default_factory=lambda: {"alice@example.com": "s3cret"})
    apps: dict[str, dict[str, Any]] = field(default_factory=dict)
    configs: dict[str, dict[str, str]] = field(default_factory=dict)
    releases: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)
    revoked: list[str] = field(default_factory=list)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path.removeprefix("/api")
        body: Any = json.loads(request.content) if request.content else None
        if path == "/login" and request.method == "POST":
            return self.login(body)
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        email = self.tokens.get(token)
        if email is None:
            return error(401, "unauthorized", "Invalid credentials provided. Run wharf login.")
        if path == "/logout":
            self.revoked.append(token)
            del self.tokens[token]
            return httpx.Response(204)
        if path == "/account":
            return httpx.Response(200, json=user(email))
        return self.app_routes(request, path, body, email)

    def login(self, body: dict[str, str]) -> httpx.Response:
        if self.passwords.get(body["email"]) != body["password"]:
            return error(401, "invalid_credentials", "Wrong email or password.")
        token = f"tok-new-{len(self.tokens)}"
        self.tokens[token] = body["email"]
        return httpx.Response(200, json={"token": token, "user": user(body["email"])})

    def app_routes(self, request: httpx.Request, path: str, body: Any, email: str) -> httpx.Response:
        method = request.method
        if path == "/apps" and method == "GET":
            return httpx.Response(200, json=[a for a in self.apps.values() if a["owner"] == email])
        if path == "/apps" and method == "POST":
            return self.create(body.get("name") or "generated-name-1234", email)
        match = re.fullmatch(r"/apps/([^/]+)(/config|/releases)?", path)
        if match is None or match.group(1) not in self.apps or self.apps[match.group(1)]["owner"] != email:
            return error(404, "not_found", "Couldn't find that app.")
        name, sub = match.group(1), match.group(2)
        if sub == "/config" and method == "PATCH":
            return self.patch_config(name, body, email)
        if sub == "/config":
            return httpx.Response(200, json=self.configs[name])
        if sub == "/releases":
            return httpx.Response(200, json=self.releases[name])
        if method == "DELETE":
            if request.url.params.get("confirm") != name:
                return error(400, "confirmation_required", f"Confirm with --confirm {name}.")
            del self.apps[name]
            return httpx.Response(204)
        return httpx.Response(200, json=self.apps[name])

    def create(self, name: str, email: str) -> httpx.Response:
        if name in self.apps:
            return error(409, "conflict", f"Name {name} is already taken. Pick another name.")
        self.apps[name] = {
            "id": len(self.apps) + 1, "name": name, "owner": email,
            "web_url": f"http://{name}.localhost/", "git_url": f"{FAKE_URL}/git/{name}.git",
            "maintenance": False, "current_release": None, "created_at": "2024-05-01T12:00:00+00:00",
        }  # fmt: skip
        self.configs[name] = {}
        self.releases[name] = []
        return httpx.Response(201, json=self.apps[name])

    def patch_config(self, name: str, body: dict[str, str | None], email: str) -> httpx.Response:
        config = self.configs[name]
        for key, value in body.items():
            if value is None:
                config.pop(key, None)
            else:
                config[key] = value
        verb = "Set" if any(value is not None for value in body.values()) else "Remove"
        version = len(self.releases[name]) + 1
        for release in self.releases[name]:
            release["current"] = False
        release = {
            "version": version, "description": f"{verb} {', '.join(body)} config vars", "status": "succeeded",
            "build_id": None, "created_by": email, "created_at": "2024-05-01T12:00:00+00:00", "current": True,
        }  # fmt: skip
        self.releases[name].insert(0, release)
        return httpx.Response(200, json=config)


def user(email: str) -> dict[str, Any]:
    return {
        "id": 1,
        "email": email,
        "is_admin": False,
        "invite_quota": 5,
        "created_at": "2024-05-01T12:00:00",
    }


def error(status: int, error_id: str, message: str) -> httpx.Response:
    return httpx.Response(status, json={"id": error_id, "message": message})


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh HOME (so ~/.netrc and ~/.config are the test's own) and a working dir outside any repo."""
    home_dir = tmp_path / "home"
    work_dir = tmp_path / "work"
    home_dir.mkdir()
    work_dir.mkdir()
    monkeypatch.setenv("HOME", str(home_dir))
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    for name in ("XDG_CONFIG_HOME", "NETRC", "WHARF_API_URL", "WHARF_API_TOKEN", "WHARF_APP"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(work_dir)
    return home_dir


@pytest.fixture
def fake_api(home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeApi]:
    """The CLI talks to an in-memory API; WHARF_API_URL points at it."""
    api = FakeApi()
    monkeypatch.setattr(session, "transport", httpx.MockTransport(api.handle))
    monkeypatch.setenv("WHARF_API_URL", FAKE_URL)
    yield api


@pytest.fixture
def logged_in(fake_api: FakeApi, home: Path) -> FakeApi:
    (home / ".netrc").write_text("machine wharf.test\n  login alice@example.com\n  password tok-alice\n")
    (home / ".netrc").chmod(0o600)
    return fake_api


class RunCli(Protocol):
    def __call__(self, *args: str, input: str | None = None) -> Result: ...


@pytest.fixture
def cli() -> RunCli:
    """Run `wharf ARGS...` in-process; the result has .exit_code, .stdout and .stderr."""

    def run(*args: str, input: str | None = None) -> Result:
        return CliRunner().invoke(cli_app, list(args), input=input)

    return run
