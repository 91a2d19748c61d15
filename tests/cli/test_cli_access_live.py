"""`wharf access`, `teams`, `members` and `apps:transfer` against a live `wharfd api`."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from tests.conftest import LiveServer
from tests.utils.wharf_cli import cli_env, run_wharf


def test_collaborators_teams_and_transfer_from_the_cli(live_server: LiveServer, tmp_path: Path) -> None:
    owner_email, owner_token = live_server.signup()
    other_email, other_token = live_server.signup()
    owner = cli_env(live_server.url, owner_token, tmp_path / "owner")
    other = cli_env(live_server.url, other_token, tmp_path / "other")
    app = f"cli-access-{secrets.token_hex(3)}"
    team = f"cli-team-{secrets.token_hex(3)}"
    assert run_wharf(owner, "apps:create", app, "--no-remote").returncode == 0

    added = run_wharf(owner, "access:add", other_email, "-a", app, "--role", "viewer")
    assert added.returncode == 0, added.stderr
    listed = json.loads(run_wharf(owner, "access", "-a", app, "--json").stdout)
    assert {(a["email"], a["role"]) for a in listed} == {(owner_email, "admin"), (other_email, "viewer")}
    assert other_email in run_wharf(owner, "access", "-a", app).stdout
    refused = run_wharf(other, "config:set", "K=v", "-a", app)
    assert refused.returncode != 0 and "member role" in refused.stderr
    assert f"{app} [viewer]" in run_wharf(other, "apps").stdout
    attached = run_wharf(other, "run", "-a", app, "--no-tty", "--", "echo", "hi")
    assert attached.returncode == 1 and "member role" in attached.stderr, attached.stderr

    assert run_wharf(owner, "access:update", other_email, "-a", app, "--role", "member").returncode == 0
    assert run_wharf(other, "config:set", "K=v", "-a", app).returncode == 0
    unknown = run_wharf(owner, "access:add", "nobody-at-all@example.com", "-a", app)
    assert unknown.returncode != 0 and "sign up first" in unknown.stderr
    assert run_wharf(owner, "access:remove", other_email, "-a", app).returncode == 0
    assert run_wharf(other, "apps:info", "-a", app).returncode != 0

    assert run_wharf(owner, "teams:create", team).returncode == 0
    assert run_wharf(owner, "members:add", other_email, "-t", team, "--role", "viewer").returncode == 0
    members = json.loads(run_wharf(other, "members", "-t", team, "--json").stdout)
    assert {(m["email"], m["role"]) for m in members} == {(owner_email, "admin"), (other_email, "viewer")}
    assert [t["name"] for t in json.loads(run_wharf(other, "teams", "--json").stdout)] == [team]
    team_app = f"cli-tapp-{secrets.token_hex(3)}"
    assert run_wharf(owner, "apps:create", team_app, "--team", team, "--no-remote").returncode == 0
    shown = json.loads(run_wharf(other, "apps:info", "-a", team_app, "--json").stdout)
    assert (shown["role"], shown["team"]) == ("viewer", team)
    assert run_wharf(other, "apps:create", "--team", team, "--no-remote").returncode != 0
    assert run_wharf(owner, "members:remove", other_email, "-t", team).returncode == 0

    moved = run_wharf(owner, "apps:transfer", other_email, "-a", app)
    assert moved.returncode == 0, moved.stderr
    assert json.loads(run_wharf(other, "apps:info", "-a", app, "--json").stdout)["owner"] == other_email
