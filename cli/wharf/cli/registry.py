"""Register commands under Heroku's colon names, with WharfError shown as ` ▸    message`."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec

import typer

from wharf.cli.errors import WharfError

P = ParamSpec("P")


def add_command(app: typer.Typer, name: str, function: Callable[P, None], *, hidden: bool = False) -> None:
    """Add `function` as command `name` (colons allowed); user errors exit 1 without a traceback."""

    @functools.wraps(function)
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            function(*args, **kwargs)
        except WharfError as error:
            error.show()
            raise typer.Exit(error.exit_code) from error

    app.command(name, hidden=hidden)(run)
