"""`wharf keys:add`, `keys`, `keys:remove` on a live API: validated, fingerprinted, one account per key."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.conftest import LiveServer
from tests.utils.api import client_for
from tests.utils.wharf_cli import cli_env, run_wharf


def make_key(directory: Path, name: str = "id_ed25519", comment: str = "laptop") -> Path:
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = directory / name
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)], check=True
    )
    return path


def fingerprint(public: Path) -> str:
    shown = subprocess.run(
        ["ssh-keygen", "-l", "-E", "sha256", "-f", str(public)], capture_output=True, text=True
    )
    return shown.stdout.split()[1]


def test_keys_add_list_remove_with_the_cli(live_server: LiveServer, tmp_path: Path) -> None:
    _email, token = live_server.signup()
    home = tmp_path / "home"
    key = make_key(home / ".ssh")
    env = cli_env(live_server.url, token, home)

    added = run_wharf(env, "keys:add")
    assert added.returncode == 0, added.stderr
    expected = fingerprint(key.with_suffix(".pub"))
    assert expected in added.stdout

    listed = run_wharf(env, "keys", "--json")
    assert listed.returncode == 0, listed.stderr
    keys = json.loads(listed.stdout)
    assert [(k["fingerprint"], k["comment"]) for k in keys] == [(expected, "laptop")]
    assert keys[0]["public_key"].startswith("ssh-ed25519 ")

    again = run_wharf(env, "keys:add", str(key.with_suffix(".pub")))
    assert again.returncode != 0
    assert "already registered" in again.stderr

    _other_email, other_token = live_server.signup()
    taken = client_for(live_server, other_token).post(
        "/api/account/keys", json={"public_key": key.with_suffix(".pub").read_text()}
    )
    assert taken.status_code == 409
    assert taken.json()["id"] == "ssh_key_taken"

    removed = run_wharf(env, "keys:remove", "laptop")
    assert removed.returncode == 0, removed.stderr
    assert json.loads(run_wharf(env, "keys", "--json").stdout) == []
    missing = run_wharf(env, "keys:remove", expected)
    assert missing.returncode != 0
    assert "wharf keys" in missing.stderr


def test_invalid_and_private_keys_are_refused(live_server: LiveServer, tmp_path: Path) -> None:
    _email, token = live_server.signup()
    client = client_for(live_server, token)
    key = make_key(tmp_path / "keys")
    for bad in ("ssh-ed25519 AAAAnotbase64!!", "hello", key.read_text(), "ssh-dss AAAAB3NzaC1kc3MAAACBAP"):
        answer = client.post("/api/account/keys", json={"public_key": bad})
        assert answer.status_code == 400, (bad[:30], answer.text)
        assert answer.json()["id"] == "invalid_ssh_key"
    env = cli_env(live_server.url, token, tmp_path / "home")
    private = run_wharf(env, "keys:add", str(key))
    assert private.returncode != 0
    assert "private key" in private.stderr
    assert client.get("/api/account/keys").json() == []
