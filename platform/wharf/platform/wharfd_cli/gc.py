"""`wharfd gc`: old build directories, images and containers collected."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from wharf.platform.wharfd_cli.common import _component_settings, _fail

if TYPE_CHECKING:
    pass


def gc(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would go; remove nothing.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    older_than: Annotated[
        float | None,
        typer.Option("--older-than", help="Hours; default WHARF_GC_AGE_HOURS.", min=0),
    ] = None,
) -> None:
    """Remove old build directories, release images beyond WHARF_KEEP_RELEASES, dangling images and
    stopped containers that Wharf made; print the space freed."""
    import docker

    from wharf.platform.host_gc import collect_garbage, human_bytes

    settings = _component_settings()
    try:
        report = collect_garbage(settings, dry_run=dry_run, age_hours=older_than)
    except (docker.errors.DockerException, OSError) as error:
        _fail(f"gc could not finish ({error}). Is dockerd running?")
    if as_json:
        print(json.dumps(report.to_json(), indent=2))
        return
    for item in report.removed:
        done = "would remove" if dry_run else "removed"
        print(f"{done} {item.kind} {item.name} ({human_bytes(item.bytes)}): {item.reason}")
    for line in report.skipped:
        print(f"kept {line}")
    verb = "would free" if dry_run else "freed"
    print(f"{verb} {human_bytes(report.freed_bytes)} ({len(report.removed)} objects)")
