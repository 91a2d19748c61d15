"""The installed `wharf` command against a live `wharfd api`: what a user types and sees.

Each test runs with its own HOME, so ~/.netrc and ~/.config/wharf are the test's alone.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import httpx
import pytest

PASSWORD = "correct horse battery staple"


class LiveServer(Protocol):
    """What these tests use of the `live_server` fixture in tests/conftest.py."""

    url: str

    def make_invite(self) -> str: ...

    def signup(self, email: str | None = None, password: str = ...) -> tuple[str, str]: ...


def wharf_executable() -> str:
    """The console script installed next to this interpreter (or on PATH)."""
    beside = Path(sys.executable).parent / "wharf"
    found = str(beside) if beside.exists() else shutil.which("wharf")
    if found is None:
        pytest.fail("the wharf command is not installed: pip install ./cli")
    return found


@dataclass
class User:
    """One person at one laptop: a HOME, a working directory and the `wharf` command."""

    home: Path
    cwd: Path
    api_url: str

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("WHARF_", "XDG_", "GIT_"))}
        env.update(
            HOME=str(self.home), GIT_CEILING_DIRECTORIES=str(self.home.parent), GIT_CONFIG_NOSYSTEM="1"
        )
        return env

    def wharf(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [wharf_executable(), *args],
            cwd=self.cwd,
            env=self.env(),
            input=input,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def ok(self, *args: str, input: str | None = None) -> str:
        result = self.wharf(*args, input=input)
        assert result.returncode == 0, f"wharf {' '.join(args)} failed:\n{result.stderr}"
        return result.stdout

    def git(self, *args: str) -> str:
        result = subprocess.run(
            ["git", *args], cwd=self.cwd, env=self.env(), capture_output=True, text=True, check=True
        )
        return result.stdout.strip()

    def netrc(self) -> str:
        return (self.home / ".netrc").read_text()

    def signup(self, invite: str, email: str) -> str:
        return self.ok(
            "signup", "--api", self.api_url, "--invite", invite, "--email", email, "--password-stdin",
            input=PASSWORD + "\n",
        )  # fmt: skip


MakeUser = Callable[..., User]


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


@pytest.fixture
def make_user(tmp_path: Path, live_server: LiveServer) -> MakeUser:
    def make(name: str = "user") -> User:
        home = tmp_path / name / "home"
        work = tmp_path / name / "work"
        home.mkdir(parents=True)
        work.mkdir()
        return User(home=home, cwd=work, api_url=live_server.url)

    return make


@pytest.fixture
def alice(make_user: MakeUser, live_server: LiveServer) -> tuple[User, str]:
    """A user signed up through the CLI from a fresh invite; returns (user, email)."""
    user = make_user("alice")
    email = f"{unique('alice')}@example.com"
    user.signup(live_server.make_invite(), email)
    return user, email


def test_signup_with_an_invite_then_whoami(make_user: MakeUser, live_server: LiveServer) -> None:
    user = make_user()
    email = f"{unique('new')}@example.com"

    assert user.signup(live_server.make_invite(), email) == f"Signed up and logged in as {email}\n"

    assert user.ok("auth:whoami") == f"{email}\n"
    assert f"login {email}" in user.netrc()
    assert (
        json.loads((user.home / ".config" / "wharf" / "config.json").read_text())["api_url"]
        == live_server.url
    )


def test_signup_with_a_used_invite_is_refused(make_user: MakeUser, live_server: LiveServer) -> None:
    first = make_user("first")
    second = make_user("second")
    invite = live_server.make_invite()
    first.signup(invite, f"{unique('first')}@example.com")

    result = second.wharf(
        "signup", "--api", live_server.url, "--invite", invite, "--email", f"{unique('second')}@example.com",
        "--password-stdin", input=PASSWORD + "\n",
    )  # fmt: skip

    assert result.returncode != 0
    assert result.stderr.startswith(" ▸    ")
    assert not (second.home / ".netrc").exists()


def test_login_and_logout_write_and_remove_the_netrc_entry(
    make_user: MakeUser, live_server: LiveServer
) -> None:
    email, _ = live_server.signup(f"{unique('ann')}@example.com", PASSWORD)
    user = make_user()
    (user.home / ".netrc").write_text("machine github.com\n  login octocat\n  password gh-token\n")

    login = user.ok(
        "login", "--api", live_server.url, "--email", email, "--password-stdin", input=PASSWORD + "\n"
    )

    assert login == f"Logged in as {email}\n"
    assert stat.S_IMODE((user.home / ".netrc").stat().st_mode) == 0o600
    assert "machine 127.0.0.1" in user.netrc() and f"login {email}" in user.netrc()
    token = user.ok("auth:token").strip()
    assert token in user.netrc()
    assert httpx.get(f"{live_server.url}/api/account", auth=("git", token)).status_code == 200

    user.ok("logout")

    assert user.netrc() == "machine github.com\n  login octocat\n  password gh-token\n"
    assert httpx.get(f"{live_server.url}/api/account", auth=("git", token)).status_code == 401
    whoami = user.wharf("auth:whoami")
    assert whoami.returncode == 1 and "Not logged in" in whoami.stderr


def test_wrong_password_shows_the_api_message(make_user: MakeUser, live_server: LiveServer) -> None:
    email, _ = live_server.signup(f"{unique('ann')}@example.com", PASSWORD)
    user = make_user()

    result = user.wharf("login", "--api", live_server.url, "-e", email, "--password-stdin", input="nope\n")

    assert result.returncode == 1
    assert result.stderr.startswith(" ▸    ")
    assert not (user.home / ".netrc").exists()


def test_create_in_a_repo_then_config_round_trip_from_the_remote(alice: tuple[User, str]) -> None:
    user, _ = alice
    name = unique("shop")
    user.git("init", "-q")

    created = user.wharf("apps:create", name)

    assert created.returncode == 0, created.stderr
    assert f"Creating ⬢ {name}... done" in created.stderr
    git_url = user.git("remote", "get-url", "wharf")
    assert git_url.endswith(f"/git/{name}.git")
    assert git_url in created.stdout

    set_output = user.wharf("config:set", "GREETING=hello world", "RATIO=a=b")
    assert set_output.returncode == 0, set_output.stderr
    assert f"Setting GREETING and RATIO and restarting ⬢ {name}... done, v" in set_output.stderr
    assert set_output.stdout == "GREETING: hello world\nRATIO:    a=b\n"
    assert user.ok("config:get", "GREETING") == "hello world\n"
    assert user.ok("config") == f"=== {name} Config Vars\n\nGREETING: hello world\nRATIO:    a=b\n"
    after_set = json.loads(user.ok("releases", "--json"))

    unset_output = user.wharf("config:unset", "GREETING")
    assert unset_output.returncode == 0, unset_output.stderr
    assert user.ok("config:get", "GREETING") == "\n"
    assert json.loads(user.ok("config", "--json")) == {"RATIO": "a=b"}
    after_unset = json.loads(user.ok("releases", "--json"))

    assert after_unset[0]["version"] == after_set[0]["version"] + 1
    assert unset_output.stderr.strip().endswith(f"done, v{after_unset[0]['version']}")
    assert user.ok("releases").startswith(f"=== {name} Releases")


def test_json_output_of_every_listing_parses(alice: tuple[User, str]) -> None:
    user, email = alice
    name = unique("listed")
    user.ok("apps:create", name)
    user.ok("config:set", "-a", name, "A=1")

    assert name in [app["name"] for app in json.loads(user.ok("apps", "--json"))]
    info = json.loads(user.ok("apps:info", "-a", name, "--json"))
    assert (info["name"], info["owner"]) == (name, email)
    assert json.loads(user.ok("config", "-a", name, "--json")) == {"A": "1"}
    assert json.loads(user.ok("releases", "-a", name, "--json"))[0]["description"]
    assert isinstance(json.loads(user.ok("invites", "--json")), list)
    assert f"=== {email} Apps" in user.ok("apps")


def test_another_user_cannot_see_the_app(
    alice: tuple[User, str], make_user: MakeUser, live_server: LiveServer
) -> None:
    owner, _ = alice
    name = unique("private")
    owner.ok("apps:create", name)
    owner.ok("config:set", "-a", name, "SECRET=s3cret")
    bob = make_user("bob")
    bob.signup(live_server.make_invite(), f"{unique('bob')}@example.com")

    for command in (["apps:info"], ["config"], ["config:get", "SECRET"], ["config:set", "X=1"], ["releases"]):
        result = bob.wharf(*command, "-a", name)
        assert result.returncode == 1, command
        message = result.stderr.splitlines()[-1]
        assert message.startswith(" ▸    ")
        assert "find that app" in message or "not found" in message.lower()
        assert "s3cret" not in result.stdout
    destroy = bob.wharf("apps:destroy", "-a", name, "--confirm", name)
    assert destroy.returncode == 1
    assert owner.ok("config:get", "-a", name, "SECRET") == "s3cret\n"


def test_destroy_with_a_wrong_confirmation_keeps_the_app(alice: tuple[User, str]) -> None:
    user, _ = alice
    name = unique("keep")
    user.ok("apps:create", name)

    wrong = user.wharf("apps:destroy", "-a", name, "--confirm", "something-else")

    assert wrong.returncode == 1
    assert wrong.stderr == f" ▸    Confirmation did not match {name}. Aborted.\n"
    assert name in user.ok("apps")

    right = user.wharf("apps:destroy", "-a", name, "--confirm", name)
    assert right.returncode == 0, right.stderr
    assert name not in user.ok("apps")


def test_invites_create_and_list(alice: tuple[User, str]) -> None:
    user, _ = alice

    code = user.ok("invites:create", "--note", "for bob").strip()

    listed = json.loads(user.ok("invites", "--json"))
    assert [invite["note"] for invite in listed] == ["for bob"]
    assert listed[0]["hint"].strip("…. ") in code
    assert "for bob" in user.ok("invites")
