"""Process types: buildpack release defaults, overridden by the app's Procfile (the platform reads it)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import yaml

from wharf.platform.builds.tenant_files import read_tenant_text

# Heroku's (and foreman's) rule: a process type of letters, digits, `-` and `_` at the start of a line,
# at most as long as `wharf ps:scale` takes.
PROCFILE_LINE = re.compile(r"([A-Za-z0-9_-]{1,30}):[ \t]*(\S.*?)\s*")
PROCFILE_MAX_BYTES = 256 * 1024
PROCESS_TYPE = re.compile(r"[A-Za-z0-9_-]{1,63}")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,254}")
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
Warn = Callable[[str], None]


def parse_procfile(text: str) -> dict[str, str]:
    """`type: command` lines in order, a later line for a type winning; comments, blank and malformed
    lines are ignored, as Heroku ignores them."""
    processes: dict[str, str] = {}
    for line in text.removeprefix("\ufeff").splitlines():
        match = PROCFILE_LINE.fullmatch(line)
        if match:
            processes[match.group(1)] = match.group(2)
    return processes


def read_procfile(build_dir: Path) -> dict[str, str]:
    """The Procfile of BUILD_DIR (a tenant's tree), read without following links and within a size cap."""
    text = read_tenant_text(build_dir, "Procfile", max_bytes=PROCFILE_MAX_BYTES)
    return parse_procfile(text) if text is not None else {}


def _string_map(value: Any, key_pattern: re.Pattern[str], what: str, on_warning: Warn) -> dict[str, str]:
    """The scalar entries of VALUE whose keys fully match KEY_PATTERN; the others dropped with a warning."""
    if not isinstance(value, dict):
        return {}
    kept: dict[str, str] = {}
    for key, item in value.items():
        name = str(key)
        ignored = f" !     Ignored the {what} {_shown(name)} from bin/release:"
        if not isinstance(item, str | int | float | bool):
            on_warning(f"{ignored} its value is not a string.")
        elif not key_pattern.fullmatch(name):
            on_warning(f"{ignored} not a valid name.")
        elif CONTROL_CHARACTERS.search(str(item)):
            on_warning(f"{ignored} its value has control characters.")
        else:
            kept[name] = str(item)
    return kept


def _shown(name: str) -> str:
    return repr(name[:60])


def _ignore(_line: str) -> None:
    return None


def merge_release_documents(
    documents: Iterable[str], on_warning: Warn = _ignore
) -> tuple[dict[str, str], dict[str, str]]:
    """(default_process_types, config_vars) from the buildpacks' `bin/release` YAML, later ones winning.

    Names must be process type or environment variable names; values plain strings without control
    characters (a tab aside). Anything else is dropped, with a warning in the build output.
    """
    process_types: dict[str, str] = {}
    config_vars: dict[str, str] = {}
    for document in documents:
        try:
            release = yaml.safe_load(document) or {}
        except yaml.YAMLError:
            on_warning(" !     Ignored a bin/release output that is not YAML.")
            continue
        if not isinstance(release, dict):
            continue
        process_types.update(
            _string_map(release.get("default_process_types"), PROCESS_TYPE, "process type", on_warning)
        )
        config_vars.update(_string_map(release.get("config_vars"), ENV_NAME, "config var", on_warning))
    return process_types, config_vars
