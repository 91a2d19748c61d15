"""`wharfd migrate`, `wharfd invites create` and `wharfd stack build`: preparing a host."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from wharf.platform.wharfd_cli.common import _fail, _settings, _upgrade_database, console

if TYPE_CHECKING:
    from wharf.platform.settings import Settings


def migrate() -> None:
    """Bring the control-plane database schema up to date (safe while Wharf runs)."""
    _upgrade_database(_settings())
    console.print("database is up to date")


def invites_create(
    uses: Annotated[int, typer.Option(help="How many accounts each code may create.")] = 1,
    expires: Annotated[float | None, typer.Option(help="Days until the code expires.")] = None,
    note: Annotated[str, typer.Option(help="A note for your records, such as who it is for.")] = "",
    count: Annotated[int, typer.Option(help="How many codes to make.")] = 1,
    admin: Annotated[bool, typer.Option(help="Accounts made with the code are admins.")] = False,
) -> None:
    """Print new beta invite codes, one a line."""
    from wharf.platform.actions.invites import create_invite
    from wharf.platform.db import session_scope
    from wharf.platform.errors import WharfError

    settings = _settings()
    _upgrade_database(settings)
    try:
        with session_scope(settings.resolved_database_url) as session:
            codes = [
                create_invite(
                    session=session,
                    created_by=None,
                    max_uses=uses,
                    expires_in_days=expires,
                    note=note,
                    grants_admin=admin,
                ).code
                for _ in range(count)
            ]
    except WharfError as exc:
        _fail(exc.message)
    for code in codes:
        print(code)


def stack_build(
    suite: Annotated[str, typer.Option(help="Debian suite of the stack.")] = "trixie",
    mirror: Annotated[
        str | None, typer.Option(help="Debian mirror; default: the host's apt sources.")
    ] = None,
) -> None:
    """Build the run and build images from Debian packages (no registry needed)."""
    from wharf.platform.stack import StackBuildError, build_stack_images

    settings = _settings()
    try:
        build_stack_images(
            run_image=settings.wharf_run_image,
            build_image=settings.wharf_build_image,
            suite=suite,
            mirror=mirror,
            progress=lambda line: console.print(line, markup=False, highlight=False),
        )
    except StackBuildError as exc:
        _fail(str(exc))


def _ensure_stack(settings: Settings) -> None:
    from wharf.platform.stack import StackBuildError, ensure_stack_images

    try:
        built = ensure_stack_images(
            run_image=settings.wharf_run_image,
            build_image=settings.wharf_build_image,
            progress=lambda line: console.print(line, markup=False, highlight=False),
        )
    except StackBuildError as exc:
        _fail(
            f"{exc}. Build them with `wharfd stack build`, or name existing images in "
            "WHARF_RUN_IMAGE and WHARF_BUILD_IMAGE."
        )
    except Exception as exc:  # docker unreachable, most often
        _fail(
            f"Cannot check the stack images ({exc}). Is dockerd running? Start it, then run wharfd up again."
        )
    if not built:
        console.print(f"stack images present ({settings.wharf_run_image}, {settings.wharf_build_image})")
