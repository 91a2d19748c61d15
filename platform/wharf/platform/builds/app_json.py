"""app.json at build time: read from the pushed source, and its `env` applied on an app's first deploy."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from wharf.platform.app_manifest import MAX_APP_JSON_BYTES, AppJsonError, AppManifest, parse_app_json
from wharf.platform.builds.compile import BuildFailed
from wharf.platform.builds.tenant_files import UnsafeTenantFile, read_tenant_file
from wharf.platform.testphase.manifest import TestEnvironment, parse_test_environment


def read_manifest(source: Path) -> AppManifest:
    """The app.json at the root of the pushed source; a broken one fails the build, saying why."""
    try:
        return parse_app_json(read_tenant_file(source, "app.json", max_bytes=MAX_APP_JSON_BYTES))
    except (AppJsonError, UnsafeTenantFile) as error:
        raise BuildFailed(str(error)) from None


def read_test_environment(source: Path) -> TestEnvironment | None:
    """app.json's `environments.test`, when it has a test script; a broken one fails the build."""
    try:
        return parse_test_environment(read_tenant_file(source, "app.json", max_bytes=MAX_APP_JSON_BYTES))
    except (AppJsonError, UnsafeTenantFile) as error:
        raise BuildFailed(str(error)) from None


@dataclass(frozen=True)
class InitialConfig:
    config: dict[str, str]
    generated: tuple[str, ...] = ()
    given: tuple[str, ...] = ()


def initial_config(manifest: AppManifest, config: dict[str, str], *, first_deploy: bool) -> InitialConfig:
    """Config with app.json's `env` filled in where unset, on the first deploy only (as Heroku does).

    A required var with neither a value nor a generator must be set before the first push.
    """
    if not first_deploy:
        return InitialConfig(config=dict(config))
    missing = [
        v.name
        for v in manifest.env
        if v.required and v.value is None and not v.generator and v.name not in config
    ]
    if missing:
        names = " ".join(f"{name}=..." for name in missing)
        raise BuildFailed(
            "app.json requires config vars that are not set: "
            f"set them with `wharf config:set {names}` and push again."
        )
    filled = dict(config)
    generated: list[str] = []
    given: list[str] = []
    for var in manifest.env:
        if var.name in filled:
            continue
        value = var.initial_value()
        if value is None:
            continue
        filled[var.name] = value
        (generated if var.generator else given).append(var.name)
    return InitialConfig(config=filled, generated=tuple(generated), given=tuple(given))
