"""The few git operations the CLI needs, run as argv lists in the current directory."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from wharf.cli.errors import WharfError

DEFAULT_REMOTE = "wharf"
_APP_IN_URL = re.compile(r"/git/(?P<app>[a-z][a-z0-9-]*)\.git/?\Z")


def _git(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    if shutil.which("git") is None:
        raise WharfError("git is not installed. Install git, or pass the app with --app APP.")
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)


def inside_repository(cwd: Path | None = None) -> bool:
    if shutil.which("git") is None:
        return False
    return _git("rev-parse", "--is-inside-work-tree", cwd=cwd).stdout.strip() == "true"


def remote_url(name: str, cwd: Path | None = None) -> str | None:
    """The fetch URL of remote `name`, or None outside a repository or when there is no such remote."""
    if shutil.which("git") is None:
        return None
    result = _git("remote", "get-url", name, cwd=cwd)
    if result.returncode != 0:
        return None
    return result.stdout.strip() or None


def app_from_git_url(url: str) -> str | None:
    """`http://HOST:5000/git/<app>.git` -> `<app>`; None for URLs that are not Wharf git URLs."""
    match = _APP_IN_URL.search(url.split("?", 1)[0])
    return match.group("app") if match else None


def set_remote(name: str, url: str, cwd: Path | None = None, ca_file: Path | None = None) -> None:
    """Point remote `name` at `url`, adding it when missing.

    With ``ca_file`` and an https URL, git trusts that root for this remote's URL only
    (`http.<url>.sslCAInfo` in the repository's config), never for other hosts.
    """
    verb = "set-url" if remote_url(name, cwd) is not None else "add"
    result = _git("remote", verb, name, url, cwd=cwd)
    if result.returncode != 0:
        raise WharfError(f"git remote {verb} {name} failed: {result.stderr.strip()}")
    if ca_file is not None and url.startswith("https://"):
        result = _git("config", "--local", f"http.{url}.sslCAInfo", str(ca_file), cwd=cwd)
        if result.returncode != 0:
            raise WharfError(f"git config http.{url}.sslCAInfo failed: {result.stderr.strip()}")


def remove_remote(name: str, cwd: Path | None = None) -> None:
    _git("remote", "remove", name, cwd=cwd)


def remotes_for_app(app: str, cwd: Path | None = None) -> list[str]:
    """Names of the remotes whose URL points at `app` (to clean them up when it is destroyed)."""
    if not inside_repository(cwd):
        return []
    names = _git("remote", cwd=cwd).stdout.split()
    return [name for name in names if app_from_git_url(remote_url(name, cwd) or "") == app]
