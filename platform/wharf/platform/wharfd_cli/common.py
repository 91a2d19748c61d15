"""What every wharfd subcommand shares: the error exit, the settings it runs with, the console."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.console import Console

if TYPE_CHECKING:
    from wharf.platform.settings import Settings

console = Console(stderr=True)


def _fail(message: str) -> None:
    console.print(f"[red]wharfd: {message}[/red]")
    raise typer.Exit(1)


def _settings() -> Settings:
    from wharf.platform.logs.platform_lines import install_platform_lines
    from wharf.platform.settings import SettingsError, get_settings

    settings = get_settings()
    try:
        settings.secret_key()
    except SettingsError as exc:
        _fail(str(exc))
    except PermissionError as exc:
        _fail(f"Cannot use the data dir {settings.wharf_data_dir}: {exc}. Run as root or set WHARF_DATA_DIR.")
    install_platform_lines(settings)
    return settings


def _component_settings() -> Settings:
    """The settings of a long-running component, which refuses a schema written by a newer Wharf."""
    from wharf.platform.migrate import SchemaTooNew, check_schema

    settings = _settings()
    try:
        check_schema(settings.resolved_database_url)
    except SchemaTooNew as error:
        _fail(str(error))
    return settings


def _upgrade_database(settings: Settings) -> None:
    from wharf.platform.migrate import SchemaTooNew, upgrade_database

    try:
        upgrade_database(settings.resolved_database_url)
    except SchemaTooNew as error:
        _fail(str(error))
