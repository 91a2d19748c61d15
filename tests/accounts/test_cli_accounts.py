"""The `wharf auth:*` account commands and `wharf invites:create --email`, run as a user would."""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import time
from pathlib import Path

import pyotp
import pytest

from tests.accounts.conftest import PASSWORD, MailedServer
from tests.utils.wharf_cli import cli_env, wharf_executable

NEW_PASSWORD = "a different horse battery"


# The entry point is the point here; the database engines are covered by the API tests.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _wharf(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [wharf_executable(), *args],
        env=env,
        cwd=env.get("HOME"),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_two_factor_tokens_password_and_deletion_from_the_cli(
    mailed_server: MailedServer, tmp_path: Path
) -> None:
    email, token = mailed_server.signup()
    env = cli_env(mailed_server.url, token, tmp_path)

    started = _wharf(env, "auth:2fa:enable", "--code", "000000")
    assert started.returncode == 1 and "does not match" in started.stderr
    # A fresh secret each time: read it from what the command prints, as a person would scan it.
    enable = subprocess.Popen(
        [wharf_executable(), "auth:2fa:enable"],
        env=env,
        text=True,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert enable.stdout is not None and enable.stdin is not None
    lines = [enable.stdout.readline() for _ in range(3)]
    secret = re.search(r"Secret: ([A-Z2-7]+)", "".join(lines))
    assert secret, lines
    assert "otpauth://totp/" in lines[1]
    totp = pyotp.TOTP(secret.group(1))
    out, err = enable.communicate(totp.now() + "\n", timeout=60)
    assert enable.returncode == 0, err
    recovery = re.findall(r"^  ([0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4})$", out, re.MULTILINE)
    assert len(recovery) == 10

    login_env = {k: v for k, v in env.items() if k != "WHARF_API_TOKEN"}
    login = ["login", "--api", mailed_server.url, "--email", email, "--password-stdin"]
    missing = _wharf(login_env, *login, stdin=PASSWORD + "\n")
    assert missing.returncode == 1 and "--otp" in missing.stderr
    code = totp.at(time.time() + totp.interval)
    logged_in = _wharf(login_env, *login, "--otp", code, stdin=PASSWORD + "\n")
    assert logged_in.returncode == 0, logged_in.stderr
    with_recovery = _wharf(login_env, *login, "--otp", recovery[0], stdin=PASSWORD + "\n")
    assert with_recovery.returncode == 0, with_recovery.stderr
    reused = _wharf(login_env, *login, "--otp", recovery[0], stdin=PASSWORD + "\n")
    assert reused.returncode == 1

    listed = _wharf(env, "auth:tokens", "--json")
    tokens = json.loads(listed.stdout)
    assert len(tokens) == 3 and [t["current"] for t in tokens].count(True) == 1
    other = next(t for t in tokens if not t["current"])
    assert _wharf(env, "auth:tokens:revoke", str(other["id"])).returncode == 0
    assert str(other["id"]) not in [
        str(t["id"]) for t in json.loads(_wharf(env, "auth:tokens", "--json").stdout)
    ]
    table = _wharf(env, "auth:tokens")
    assert "(this one)" in table.stdout

    wrong = _wharf(env, "auth:password", "--password-stdin", stdin=f"nope\n{NEW_PASSWORD}\n")
    assert wrong.returncode == 1 and "current password is wrong" in wrong.stderr
    changed = _wharf(env, "auth:password", "--password-stdin", stdin=f"{PASSWORD}\n{NEW_PASSWORD}\n")
    assert changed.returncode == 0, changed.stderr
    assert len(json.loads(_wharf(env, "auth:tokens", "--json").stdout)) == 1

    app = f"cli-doomed-{secrets.token_hex(3)}"
    assert _wharf(env, "apps:create", app).returncode == 0
    refused = _wharf(
        env, "auth:delete", "--confirm", "someone@example.com", "--password-stdin", stdin=NEW_PASSWORD
    )
    assert refused.returncode == 1 and "Nothing was deleted" in refused.stderr
    deleted = _wharf(env, "auth:delete", "--confirm", email, "--password-stdin", stdin=NEW_PASSWORD + "\n")
    assert deleted.returncode == 0, deleted.stderr
    assert app in deleted.stderr + deleted.stdout
    assert _wharf(env, "auth:whoami").returncode == 1


def test_invites_create_email_and_password_reset_request(mailed_server: MailedServer, tmp_path: Path) -> None:
    email, token = mailed_server.signup()
    env = cli_env(mailed_server.url, token, tmp_path)
    friend = f"cli-friend-{secrets.token_hex(4)}@example.com"
    created = _wharf(env, "invites:create", "--email", friend)
    assert created.returncode == 0, created.stderr
    [message] = mailed_server.mailbox.wait_for(friend)
    assert created.stdout.strip() in mailed_server.mailbox.text_of(message)

    asked = _wharf(env, "auth:password:reset", email)
    assert asked.returncode == 0 and "reset" in asked.stdout
    mailed_server.mailbox.wait_for(email)
