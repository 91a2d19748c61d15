"""Process types: buildpack release defaults, overridden by the app's Procfile (the platform reads it)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

PROCFILE_LINE = re.compile(r"([A-Za-z0-9_-]+):\s*(.+?)\s*")


def parse_procfile(text: str) -> dict[str, str]:
    """`type: command` lines in order; comments and malformed lines are ignored, as Heroku ignores them."""
    processes: dict[str, str] = {}
    for line in text.splitlines():
        match = PROCFILE_LINE.fullmatch(line)
        if match and not line.lstrip().startswith("#"):
            processes[match.group(1)] = match.group(2)
    return processes


def read_procfile(build_dir: Path) -> dict[str, str]:
    procfile = build_dir / "Procfile"
    return parse_procfile(procfile.read_text(errors="replace")) if procfile.is_file() else {}


def _string_map(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {str(key): str(item) for key, item in value.items()}


def merge_release_documents(documents: Iterable[str]) -> tuple[dict[str, str], dict[str, str]]:
    """(default_process_types, config_vars) from the buildpacks' `bin/release` YAML, later ones winning."""
    process_types: dict[str, str] = {}
    config_vars: dict[str, str] = {}
    for document in documents:
        release = yaml.safe_load(document) or {}
        if not isinstance(release, dict):
            continue
        process_types.update(_string_map(release.get("default_process_types")))
        config_vars.update(_string_map(release.get("config_vars")))
    return process_types, config_vars
