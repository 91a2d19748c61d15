"""Which app a command acts on: `-a/--app`, else the app behind the `wharf` git remote."""

from __future__ import annotations

from typing import Annotated

import typer

from wharf.cli import gitrepo
from wharf.cli.errors import WharfError

AppOption = Annotated[
    str | None,
    typer.Option("--app", "-a", envvar="WHARF_APP", show_envvar=False, help="App to run the command on."),
]
RemoteOption = Annotated[
    str, typer.Option("--remote", "-r", help="Git remote of the app to run the command against.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the API's JSON.")]

NO_APP_MESSAGE = (
    "No app specified. Run this command from an app folder or specify which app to use with --app APP"
)


def resolve_app(app: str | None, remote: str = gitrepo.DEFAULT_REMOTE) -> str:
    """The explicit app wins; otherwise the app named in the git remote's URL."""
    if app:
        return app
    url = gitrepo.remote_url(remote)
    name = gitrepo.app_from_git_url(url) if url else None
    if name is None:
        raise WharfError(NO_APP_MESSAGE)
    return name
