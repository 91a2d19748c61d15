"""The installed `wharf` command's add-on verbs against a live `wharfd api` (in-memory provider)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import LiveServer
from tests.utils.addons_api import new_app, user_client

Wharf = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def wharf(live_server: LiveServer, tmp_path: Path) -> Wharf:
    """`wharf ARGS...` as a logged-in user (token from the environment), in a scratch directory."""
    _email, token = live_server.signup()
    beside = Path(sys.executable).parent / "wharf"
    executable = str(beside) if beside.exists() else shutil.which("wharf")
    assert executable, "the wharf command is not installed"
    env = {k: v for k, v in os.environ.items() if not k.startswith("WHARF_")}
    env.update(HOME=str(tmp_path), WHARF_API_URL=live_server.url, WHARF_API_TOKEN=token)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [executable, *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    return run


def make_app(wharf: Wharf) -> str:
    created = wharf("apps:create", "--json", "--no-remote")
    assert created.returncode == 0, created.stderr
    name: str = json.loads(created.stdout)["name"]
    return name


def test_create_list_console_and_a_refused_destroy(wharf: Wharf) -> None:
    app = make_app(wharf)

    created = wharf("addons:create", "redis", "-a", app)
    listed = json.loads(wharf("addons", "-a", app, "--json").stdout)
    name = listed[0]["name"]
    wharf("redis:cli", "-a", app, "--command", "SET greeting hello")
    got = wharf("redis:cli", "-a", app, "--command", "GET greeting")
    refused = wharf("addons:destroy", name, "-a", app, "--confirm", app)
    info = wharf("addons:info", name, "-a", app)

    assert created.returncode == 0, created.stderr
    assert created.stdout.startswith(f"Created {name} as REDIS_URL (release v")
    assert got.stdout == "hello\n"
    assert refused.returncode == 1 and "Nothing was destroyed" in refused.stderr
    assert "Config var: REDIS_URL" in info.stdout and "State:      available" in info.stdout
    assert wharf("config:get", "REDIS_URL", "-a", app).stdout.startswith("redis://")


def test_destroy_with_confirmation_removes_the_addon_and_its_config_var(wharf: Wharf) -> None:
    app = make_app(wharf)
    wharf("addons:create", "memcached", "-a", app)
    name = json.loads(wharf("addons", "-a", app, "--json").stdout)[0]["name"]

    destroyed = wharf("addons:destroy", name, "-a", app, "--confirm", name)

    assert destroyed.returncode == 0, destroyed.stderr
    assert wharf("addons", "-a", app).stdout == f"No add-ons for app {app}.\n"
    assert wharf("config:get", "MEMCACHED_URL", "-a", app).stdout == "\n"


def test_pg_backups_capture_download_and_restore(wharf: Wharf, tmp_path: Path) -> None:
    app = make_app(wharf)
    wharf("addons:create", "postgres", "-a", app)
    wharf("pg:psql", "-a", app, "--command", "SET rows 7")

    captured = wharf("pg:backups:capture", "-a", app)
    listing = wharf("pg:backups", "-a", app)
    downloaded = wharf("pg:backups:download", "-a", app, "-o", str(tmp_path / "copy.dump"))
    backup = json.loads(wharf("pg:backups", "-a", app, "--json").stdout)[0]
    wharf("pg:psql", "-a", app, "--command", "SET rows 0")
    refused = wharf("pg:backups:restore", "b001", "-a", app, "--confirm", "wrong")
    restored = wharf("pg:backups:restore", "b001", "-a", app, "--confirm", app)

    assert captured.returncode == 0 and captured.stdout.startswith("Backup b001 completed")
    assert "b001" in listing.stdout and "completed" in listing.stdout
    assert downloaded.returncode == 0, downloaded.stderr
    assert hashlib.sha256((tmp_path / "copy.dump").read_bytes()).hexdigest() == backup["sha256"]
    assert refused.returncode == 1 and "Nothing was restored" in refused.stderr
    assert "It now holds: public.rows (~1 rows)." in restored.stderr
    assert wharf("pg:psql", "-a", app, "--command", "GET rows").stdout == "7\n"


def test_another_users_app_is_not_found(wharf: Wharf, live_server: LiveServer) -> None:
    someone_else = user_client(live_server)
    their_app = new_app(someone_else)

    answer = wharf("addons", "-a", their_app)

    assert answer.returncode == 1 and "Couldn't find that app" in answer.stderr


def test_pg_info_and_redis_info_show_the_default_attachments(wharf: Wharf) -> None:
    app = make_app(wharf)
    assert wharf("addons:create", "postgres", "-a", app).returncode == 0
    assert wharf("addons:create", "redis", "-a", app).returncode == 0
    listed = {a["kind"]: a["name"] for a in json.loads(wharf("addons", "-a", app, "--json").stdout)}
    for verb, kind in (("pg:info", "postgres"), ("redis:info", "redis")):
        shown = wharf(verb, "-a", app, "--json")
        assert shown.returncode == 0, shown.stderr
        assert json.loads(shown.stdout)["name"] == listed[kind]
        human = wharf(verb, "-a", app)
        assert human.returncode == 0 and listed[kind] in human.stdout
