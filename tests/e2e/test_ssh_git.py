"""`git push ssh://git@127.0.0.1:PORT/APP.git main` with the real git and OpenSSH clients."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.api.test_ssh_keys import make_key
from tests.utils.e2e import Developer, Wharf, new_developer
from tests.utils.wharfd_up import wait_until_served

pytestmark = pytest.mark.e2e


def ssh_command(key: Path, home: Path) -> str:
    known = home / "known_hosts"
    return (
        f"ssh -i {key} -o IdentitiesOnly=yes -o IdentityAgent=none -o BatchMode=yes "
        f"-o StrictHostKeyChecking=accept-new -o UserKnownHostsFile={known}"
    )


def ssh_url(wharf: Wharf, app: str) -> str:
    return f"ssh://git@127.0.0.1:{wharf.env['WHARF_SSH_PORT']}/{app}.git"


def add_key(developer: Developer, name: str) -> Path:
    key = make_key(developer.home / ".ssh", name=name, comment=name)
    with developer.api as api:
        answer = api.post("/api/account/keys", json={"public_key": key.with_suffix(".pub").read_text()})
    assert answer.status_code == 201, answer.text
    return key


def ssh_git(developer: Developer, key: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**developer.env(), "GIT_SSH_COMMAND": ssh_command(key, developer.home)}
    return subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=900)


def step_lines(output: str, app: str) -> list[str]:
    """The `remote: ----->` steps of a push, with what differs between two pushes blanked out."""
    steps = [line for line in output.splitlines() if line.startswith("remote: ----->")]
    return [re.sub(r"[0-9a-f]{7,40}|\d+(\.\d+)?", "#", line.replace(app, "APP")) for line in steps]


def test_ssh_push_deploys_with_the_same_output_as_an_http_push(
    wharf: Wharf, developer: Developer, tmp_path: Path
) -> None:
    key = add_key(developer, "id_ed25519")
    over_http = developer.create_app()
    http_repo = developer.app_repo("procfile_only", over_http, tmp_path)
    http_push = developer.git("push", "wharf", "main", cwd=http_repo, check=False)
    assert http_push.returncode == 0, http_push.stderr

    over_ssh = developer.create_app()
    repo = developer.app_repo("procfile_only", over_ssh, tmp_path)
    pushed = ssh_git(developer, key, "push", ssh_url(wharf, over_ssh), "main", cwd=repo)
    assert pushed.returncode == 0, pushed.stderr
    assert "remote: -----> Building" in pushed.stderr
    assert f"http://{over_ssh}.localhost" in pushed.stderr
    assert step_lines(pushed.stderr, over_ssh) == step_lines(http_push.stderr, over_http)
    wait_until_served(wharf, over_ssh, timeout=120)

    # Fetching over SSH sees what was pushed.
    head = developer.git("rev-parse", "HEAD", cwd=repo).stdout.strip()
    remote = ssh_git(developer, key, "ls-remote", ssh_url(wharf, over_ssh), "main", cwd=repo)
    assert remote.returncode == 0, remote.stderr
    assert remote.stdout.split()[0] == head
    clone = ssh_git(
        developer, key, "clone", "-q", ssh_url(wharf, over_ssh), str(tmp_path / "clone"), cwd=tmp_path
    )
    assert clone.returncode == 0, clone.stderr
    assert (tmp_path / "clone" / "Procfile").is_file()

    # The same refusal rules as over HTTP.
    other_branch = ssh_git(developer, key, "push", ssh_url(wharf, over_ssh), "main:feature", cwd=repo)
    assert other_branch.returncode != 0
    assert "Wharf deploys main or master only" in other_branch.stderr


def test_unknown_key_other_users_app_and_shell_are_refused(
    wharf: Wharf, developer: Developer, tmp_path: Path
) -> None:
    key = add_key(developer, "id_owner")
    app = developer.create_app()
    repo = developer.app_repo("procfile_only", app, tmp_path)

    stranger_key = make_key(tmp_path / "stranger", name="id_stranger")
    unknown = ssh_git(developer, stranger_key, "push", ssh_url(wharf, app), "main", cwd=repo)
    assert unknown.returncode != 0
    assert "Permission denied (publickey)" in unknown.stderr

    other = new_developer(wharf, tmp_path)
    other_key = add_key(other, "id_other")
    refused = ssh_git(other, other_key, "push", ssh_url(wharf, app), "main", cwd=repo)
    assert refused.returncode != 0
    assert "Couldn't find that app" in refused.stderr
    fetch = ssh_git(other, other_key, "ls-remote", ssh_url(wharf, app), cwd=repo)
    assert fetch.returncode != 0

    base = [*ssh_command(key, developer.home).split(), "-p", wharf.env["WHARF_SSH_PORT"], "git@127.0.0.1"]
    for command in (["sh", "-c", "id"], ["git-receive-pack '/../../etc.git'"], []):
        shell = subprocess.run(
            [*base, *command], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
        )
        assert shell.returncode != 0, command
        assert "uid=" not in shell.stdout
    no_shell = subprocess.run([*base], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert "Only git is served here" in no_shell.stderr
    forward = subprocess.run(
        [*base, "-N", "-o", "ExitOnForwardFailure=yes", "-R", "0:127.0.0.1:22"],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert forward.returncode != 0
    assert "forwarding failed" in forward.stderr, forward.stderr
