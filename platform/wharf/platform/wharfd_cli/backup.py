"""`wharfd backup` and `wharfd restore`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from wharf.platform.wharfd_cli.common import _fail, _settings, console

if TYPE_CHECKING:
    pass


def backup(
    output: Annotated[
        Path | None,
        typer.Option("--output", help="Archive to write; default: wharf-backup-<time>.tar.gz here."),
    ] = None,
) -> None:
    """Write one archive of the database, secret key, git repos, certificates, local CA and add-on backups."""
    import time as clock

    from wharf.platform.host_backup import BackupError, create_backup

    settings = _settings()
    target = output or Path(f"wharf-backup-{clock.strftime('%Y%m%d-%H%M%S')}.tar.gz")
    try:
        size = create_backup(settings, target, say=lambda line: console.print(f"-----> {line}", markup=False))
    except BackupError as error:
        _fail(str(error))
    console.print(f"wrote {target} ({size / 1024 / 1024:.1f} MB, mode 0600: it holds the secret key)")


def restore(
    archive: Annotated[Path, typer.Argument(help="An archive written by `wharfd backup`.")],
    force: Annotated[bool, typer.Option("--force", help="Replace the install in the data dir.")] = False,
) -> None:
    """Bring a `wharfd backup` archive back; the next `wharfd up` rebuilds missing release images."""
    from wharf.platform.host_backup import BackupError, restore_backup
    from wharf.platform.operations import running_supervisor
    from wharf.platform.settings import get_settings

    # Not _settings(): that creates a secret key, and the one to use is in the archive.
    settings = get_settings()
    if running_supervisor(settings.supervisor_state_path) is not None:
        _fail("wharfd up is running on this data dir: stop it with `wharfd down` first")
    if not archive.is_file():
        _fail(f"{archive} is not a file")
    try:
        restore_backup(
            settings, archive, say=lambda line: console.print(f"-----> {line}", markup=False), force=force
        )
    except BackupError as error:
        _fail(str(error))
    console.print("restored; start Wharf with `wharfd up` (apps whose images are missing are rebuilt)")
