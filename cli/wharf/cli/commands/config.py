"""Config vars: config, config:get, config:set, config:unset."""

from __future__ import annotations

import re
from typing import Annotated

import typer

from wharf.cli import gitrepo, output, session
from wharf.cli.client import WharfClient
from wharf.cli.errors import WharfError
from wharf.cli.registry import add_command
from wharf.cli.resolve import AppOption, JsonOption, RemoteOption, resolve_app

_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def parse_assignments(pairs: list[str]) -> dict[str, str]:
    """`KEY=value` arguments to a dict; the value may itself contain `=` or be empty."""
    changes: dict[str, str] = {}
    for pair in pairs:
        key, separator, value = pair.partition("=")
        if not separator or not key:
            raise WharfError(
                f"{pair} is invalid. Must be in the format KEY=VALUE.\n"
                "Usage: wharf config:set KEY1=VALUE1 [KEY2=VALUE2 ...]"
            )
        if not _KEY.fullmatch(key):
            raise WharfError(
                f"{key} is not a valid config var name: use letters, digits and underscores, "
                "not starting with a digit."
            )
        changes[key] = value
    return changes


def show(
    app: AppOption = None, remote: RemoteOption = gitrepo.DEFAULT_REMOTE, json: JsonOption = False
) -> None:
    """Display the config vars of an app."""
    name = resolve_app(app, remote)
    with session.authenticated_client() as client:
        config = client.config(name)
    if json:
        output.print_json(config)
        return
    output.header(f"{name} Config Vars")
    if config:
        output.line()
        output.key_values(output.mapping_items(config))


def get(
    key: Annotated[str, typer.Argument(help="Config var name.")],
    app: AppOption = None,
    remote: RemoteOption = gitrepo.DEFAULT_REMOTE,
) -> None:
    """Display one config var's value (an empty line when it is not set)."""
    name = resolve_app(app, remote)
    with session.authenticated_client() as client:
        output.line(client.config(name).get(key, ""))


def set_vars(
    assignments: Annotated[list[str], typer.Argument(metavar="KEY=VALUE...", help="Config vars to set.")],
    app: AppOption = None,
    remote: RemoteOption = gitrepo.DEFAULT_REMOTE,
) -> None:
    """Set one or more config vars; makes a new release."""
    name = resolve_app(app, remote)
    changes = parse_assignments(assignments)
    label = f"Setting {output.sentence_list(list(changes))} and restarting {output.app_label(name)}"
    with session.authenticated_client() as client, output.action(label) as progress:
        config = client.update_config(name, changes)
        progress["suffix"] = newest_release_suffix(client, name)
    output.key_values([(key, config.get(key, value)) for key, value in changes.items()])


def unset_vars(
    keys: Annotated[list[str], typer.Argument(metavar="KEY...", help="Config vars to remove.")],
    app: AppOption = None,
    remote: RemoteOption = gitrepo.DEFAULT_REMOTE,
) -> None:
    """Unset one or more config vars; makes a new release."""
    name = resolve_app(app, remote)
    label = f"Unsetting {output.sentence_list(keys)} and restarting {output.app_label(name)}"
    changes: dict[str, str | None] = dict.fromkeys(keys)
    with session.authenticated_client() as client, output.action(label) as progress:
        client.update_config(name, changes)
        progress["suffix"] = newest_release_suffix(client, name)


def newest_release_suffix(client: WharfClient, app: str) -> str:
    """`, v7`: the release the change made, as Heroku reports it."""
    releases = client.releases(app)
    return f", v{releases[0]['version']}" if releases else ""


def register(app: typer.Typer) -> None:
    add_command(app, "config", show)
    add_command(app, "config:get", get)
    add_command(app, "config:set", set_vars)
    add_command(app, "config:unset", unset_vars)
