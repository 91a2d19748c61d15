"""git:remote: point the `wharf` remote of this repository at an app."""

from __future__ import annotations

import typer

from wharf.cli import gitrepo, output, session, settings
from wharf.cli.errors import WharfError
from wharf.cli.registry import add_command
from wharf.cli.resolve import AppOption, RemoteOption, resolve_app


def set_git_remote(app: AppOption = None, remote: RemoteOption = gitrepo.DEFAULT_REMOTE) -> None:
    """Add (or update) a git remote for an app, so `git push wharf main` deploys it."""
    if not gitrepo.inside_repository():
        raise WharfError("Not inside a git repository. Run git init first, or cd into your app's folder.")
    name = resolve_app(app, remote)
    with session.authenticated_client() as client:
        git_url = client.app(name)["git_url"]
    gitrepo.set_remote(remote, git_url, ca_file=settings.ca_file())
    output.line(f"set git remote {remote} to {git_url}")


def register(app: typer.Typer) -> None:
    add_command(app, "git:remote", set_git_remote)
