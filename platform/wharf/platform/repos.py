"""Bare repositories, one per app, with Wharf's pre-receive hook installed."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

HOOK_TEMPLATE = """#!/bin/sh
# Installed by Wharf: builds and deploys what is pushed to main or master.
exec {python} -m wharf.platform.git.hook
"""


def repo_path(data_dir: Path, app_name: str) -> Path:
    return data_dir / "repos" / f"{app_name}.git"


def ensure_repo(*, data_dir: Path, app_name: str, max_push_bytes: int) -> Path:
    """Create the app's bare repository if needed, and (re)install the hook for this Python."""
    path = repo_path(data_dir, app_name)
    if not (path / "HEAD").exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "init", "--quiet", "--bare", "--initial-branch=main", str(path)], check=True)
    settings = {
        "http.receivepack": "true",
        "receive.denyNonFastForwards": "false",
        # The pre-receive hook refuses deleting main or master; deleting a review branch destroys its app.
        "receive.denyDeletes": "false",
        "receive.maxInputSize": str(max_push_bytes),
        "core.logAllRefUpdates": "true",
    }
    for key, value in settings.items():
        subprocess.run(["git", "config", "--file", str(path / "config"), key, value], check=True)
    hook = path / "hooks" / "pre-receive"
    hook.write_text(HOOK_TEMPLATE.format(python=sys.executable))
    hook.chmod(0o755)
    return path


def remove_repo(*, data_dir: Path, app_name: str) -> None:
    shutil.rmtree(repo_path(data_dir, app_name), ignore_errors=True)


def export_commit(*, repo: Path, commit: str, destination: Path) -> None:
    """Write the commit's tree as a tar file (works inside a hook, where pushed objects are quarantined)."""
    destination.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with destination.open("wb") as out:
        subprocess.run(
            ["git", "--git-dir", str(repo), "archive", "--format=tar", commit], stdout=out, check=True
        )


def deployed_commit(repo: Path) -> str | None:
    """The commit at the tip of main (or master), the branch a push deploys; None before any push."""
    for branch in ("main", "master"):
        found = subprocess.run(
            ["git", "--git-dir", str(repo), "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"],
            capture_output=True,
            text=True,
        )
        if found.returncode == 0:
            return found.stdout.strip()
    return None
