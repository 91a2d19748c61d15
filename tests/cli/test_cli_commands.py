"""The commands' output and side effects, against an in-memory API (see conftest.FakeApi)."""

from __future__ import annotations

import json
import socket
import stat
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from wharf.cli import netrc_file, settings

if TYPE_CHECKING:
    from tests.cli.conftest import FakeApi, RunCli


def git(*args: str) -> str:
    return subprocess.run(["git", *args], check=True, capture_output=True, text=True).stdout.strip()


def test_login_stores_url_in_config_and_token_in_netrc(fake_api: FakeApi, home: Path, cli: RunCli) -> None:
    (home / ".netrc").write_text("machine github.com login octocat password gh\n")

    result = cli("login", "--api", "http://wharf.test:5000", "-e", "alice@example.com", "--password-stdin",
                 input="s3cret\n")  # fmt: skip

    assert result.exit_code == 0, result.stderr
    assert result.stdout == "Logged in as alice@example.com\n"
    entry = netrc_file.read_entry("wharf.test")
    assert entry is not None and entry.login == "alice@example.com"
    assert fake_api.tokens[entry.password or ""] == "alice@example.com"
    assert "machine github.com login octocat password gh" in (home / ".netrc").read_text()
    assert stat.S_IMODE((home / ".netrc").stat().st_mode) == 0o600
    assert json.loads(settings.config_path().read_text())["api_url"] == "http://wharf.test:5000"


def test_wrong_password_prints_the_api_message_and_writes_nothing(
    fake_api: FakeApi, home: Path, cli: RunCli
) -> None:
    result = cli("login", "-e", "alice@example.com", "--password-stdin", input="wrong\n")

    assert result.exit_code == 1
    assert result.stderr == " ▸    Wrong email or password.\n"
    assert not (home / ".netrc").exists()


def test_logout_revokes_the_token_and_removes_only_its_entry(
    logged_in: FakeApi, home: Path, cli: RunCli
) -> None:
    with (home / ".netrc").open("a") as netrc:
        netrc.write("machine github.com login octocat password gh\n")

    result = cli("logout")

    assert result.exit_code == 0
    assert "Logging out... done" in result.stderr
    assert logged_in.revoked == ["tok-alice"]
    assert (home / ".netrc").read_text() == "machine github.com login octocat password gh\n"
    assert cli("auth:whoami").stderr.startswith(" ▸    Not logged in.")


def test_whoami_and_token(logged_in: FakeApi, cli: RunCli) -> None:
    assert cli("auth:whoami").stdout == "alice@example.com\n"
    assert cli("auth:token").stdout == "tok-alice\n"


def test_apps_lists_names_under_a_heroku_header_and_json_parses(logged_in: FakeApi, cli: RunCli) -> None:
    assert cli("apps").stdout == "You have no apps.\n"
    cli("apps:create", "zebra")
    cli("apps:create", "alpha")

    assert cli("apps").stdout == "=== alice@example.com Apps\n\nalpha\nzebra\n"
    assert [app["name"] for app in json.loads(cli("apps", "--json").stdout)] == ["zebra", "alpha"]


def test_create_inside_a_repository_adds_the_wharf_remote(logged_in: FakeApi, cli: RunCli) -> None:
    git("init", "-q")

    result = cli("apps:create", "shop")

    assert result.exit_code == 0, result.stderr
    assert result.stderr == "Creating ⬢ shop... done\n"
    assert result.stdout == "http://shop.localhost/ | http://wharf.test:5000/git/shop.git\n"
    assert git("remote", "get-url", "wharf") == "http://wharf.test:5000/git/shop.git"


def test_create_without_a_name_reports_the_generated_one(logged_in: FakeApi, cli: RunCli) -> None:
    result = cli("apps:create")
    assert result.stderr == "Creating app... done, ⬢ generated-name-1234\n"


def test_create_keeps_an_existing_remote_and_says_how_to_repoint_it(logged_in: FakeApi, cli: RunCli) -> None:
    git("init", "-q")
    git("remote", "add", "wharf", "http://wharf.test:5000/git/older.git")

    result = cli("apps:create", "newer")

    assert git("remote", "get-url", "wharf") == "http://wharf.test:5000/git/older.git"
    assert "wharf git:remote -a newer" in result.stderr


def test_config_is_aligned_like_heroku(logged_in: FakeApi, cli: RunCli) -> None:
    cli("apps:create", "shop")
    logged_in.configs["shop"] = {"DATABASE_URL": "postgres://db/x", "A": "1", "SECRET_KEY": "k=v"}

    result = cli("config", "-a", "shop")

    assert result.stdout == (
        "=== shop Config Vars\n\nA:            1\nDATABASE_URL: postgres://db/x\nSECRET_KEY:   k=v\n"
    )
    assert json.loads(cli("config", "-a", "shop", "--json").stdout) == logged_in.configs["shop"]


def test_config_set_get_unset_from_the_remote_with_a_release_each(logged_in: FakeApi, cli: RunCli) -> None:
    git("init", "-q")
    cli("apps:create", "shop")

    set_result = cli("config:set", "GREETING=hello world", "EQUATION=a=b")
    assert set_result.exit_code == 0, set_result.stderr
    assert set_result.stderr == "Setting GREETING and EQUATION and restarting ⬢ shop... done, v1\n"
    assert set_result.stdout == "GREETING: hello world\nEQUATION: a=b\n"
    assert cli("config:get", "EQUATION").stdout == "a=b\n"

    unset_result = cli("config:unset", "GREETING")
    assert unset_result.stderr == "Unsetting GREETING and restarting ⬢ shop... done, v2\n"
    assert cli("config:get", "GREETING").stdout == "\n"
    assert logged_in.configs["shop"] == {"EQUATION": "a=b"}


def test_config_set_refuses_malformed_pairs_before_calling_the_api(logged_in: FakeApi, cli: RunCli) -> None:
    result = cli("config:set", "-a", "shop", "NOVALUE")
    assert result.exit_code == 1
    assert result.stderr.startswith(" ▸    NOVALUE is invalid. Must be in the format KEY=VALUE.")
    assert not logged_in.requests


def test_releases_show_version_description_author(logged_in: FakeApi, cli: RunCli) -> None:
    cli("apps:create", "shop")
    cli("config:set", "-a", "shop", "A=1")
    cli("config:unset", "-a", "shop", "A")

    lines = cli("releases", "-a", "shop").stdout.splitlines()

    assert lines[0] == "=== shop Releases - Current: v2"
    assert lines[2].split("  ")[:3] == ["v2", "Remove A config vars", "alice@example.com"]
    assert lines[3].startswith("v1  Set A config vars     alice@example.com  2024/05/01 12:00:00 +0000")
    assert [r["version"] for r in json.loads(cli("releases", "-a", "shop", "--json").stdout)] == [2, 1]


def test_destroy_with_wrong_confirmation_destroys_nothing(logged_in: FakeApi, cli: RunCli) -> None:
    cli("apps:create", "shop")

    wrong = cli("apps:destroy", "-a", "shop", "--confirm", "shop2")
    missing = cli("apps:destroy", "-a", "shop")

    assert wrong.exit_code == 1
    assert wrong.stderr == " ▸    Confirmation did not match shop. Aborted.\n"
    assert missing.exit_code == 1
    assert "re-run this command with --confirm shop" in missing.stderr
    assert "shop" in logged_in.apps
    assert not [r for r in logged_in.requests if r.method == "DELETE"]


def test_destroy_removes_the_app_and_its_remote(logged_in: FakeApi, cli: RunCli) -> None:
    git("init", "-q")
    cli("apps:create", "shop")

    result = cli("apps:destroy", "--confirm", "shop")

    assert result.exit_code == 0, result.stderr
    assert result.stderr == "Destroying ⬢ shop... done\n"
    assert "shop" not in logged_in.apps
    assert git("remote") == ""


def test_another_users_app_is_not_found(logged_in: FakeApi, cli: RunCli) -> None:
    logged_in.create("private", "bob@example.com")
    result = cli("apps:info", "-a", "private")
    assert (result.exit_code, result.stderr) == (1, " ▸    Couldn't find that app.\n")


def test_git_remote_points_this_repository_at_an_app(logged_in: FakeApi, cli: RunCli) -> None:
    cli("apps:create", "shop")
    assert cli("git:remote", "-a", "shop").stderr.startswith(" ▸    Not inside a git repository.")
    git("init", "-q")

    result = cli("git:remote", "-a", "shop")

    assert result.stdout == "set git remote wharf to http://wharf.test:5000/git/shop.git\n"
    assert git("remote", "get-url", "wharf") == "http://wharf.test:5000/git/shop.git"


def test_apps_info_lists_aligned_details(logged_in: FakeApi, cli: RunCli) -> None:
    cli("apps:create", "shop")
    lines = cli("apps:info", "-a", "shop").stdout.splitlines()
    assert lines[:4] == [
        "=== shop",
        "Git URL:         http://wharf.test:5000/git/shop.git",
        "Owner:           alice@example.com",
        "Web URL:         http://shop.localhost/",
    ]
    assert json.loads(cli("apps:info", "-a", "shop", "--json").stdout)["name"] == "shop"


def test_login_prompts_for_email_and_hidden_password(fake_api: FakeApi, cli: RunCli) -> None:
    result = cli("login", input="alice@example.com\ns3cret\n")

    assert result.exit_code == 0, result.stderr
    assert result.stdout.endswith("Logged in as alice@example.com\n")
    assert "s3cret" not in result.stdout + result.stderr


def test_password_stdin_without_email_is_refused_before_reading(fake_api: FakeApi, cli: RunCli) -> None:
    result = cli("login", "--password-stdin", input="s3cret\n")
    assert (result.exit_code, result.stderr) == (1, " ▸    --password-stdin needs --email EMAIL.\n")


def test_unreachable_api_says_which_url_and_how_to_set_it(home: Path, cli: RunCli) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_url = f"http://127.0.0.1:{probe.getsockname()[1]}"

    result = cli("login", "--api", closed_url, "-e", "a@example.com", "--password-stdin", input="x\n")

    assert result.exit_code == 1
    assert result.stderr.startswith(f" ▸    Could not reach the Wharf API at {closed_url}")
    assert "WHARF_API_URL" in result.stderr
