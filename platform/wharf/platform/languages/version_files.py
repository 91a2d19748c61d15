"""What an app asks for, read from the files Heroku and the version managers read.

Node.js: package.json `engines.node`, else `.node-version`, else `.nvmrc`. Python: `.python-version`,
else `runtime.txt`, else `requires-python` in pyproject.toml, else in uv.lock. Files are the tenant's: each
is read only when it is a regular file (never through a symlink) and only its first 64 KiB (package.json:
1 MiB).
"""

from __future__ import annotations

import json
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

SMALL_FILE_BYTES = 64 * 1024
PACKAGE_JSON_BYTES = 1024 * 1024
_REQUIRES_PYTHON = re.compile(r"""^\s*requires-python\s*=\s*["']([^"'\n]*)["']""", re.MULTILINE)


@dataclass(frozen=True)
class Request:
    """A version request and the file it came from, for messages (`18.x` from `package.json engines.node`)."""

    text: str
    origin: str


def read_app_file(app_dir: Path, name: str, limit: int = SMALL_FILE_BYTES) -> str | None:
    """The text of APP_DIR/NAME when it is a regular file, not a symlink; at most LIMIT bytes."""
    path = app_dir / name
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            return None
        return handle.read(limit).decode("utf-8", errors="replace")


def _first_line(text: str) -> str:
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            return line
    return ""


def node_request(app_dir: Path) -> Request | None:
    """The Node.js version the app asks for, or None when it names none."""
    manifest = read_app_file(app_dir, "package.json", PACKAGE_JSON_BYTES)
    if manifest is not None:
        try:
            engines = json.loads(manifest).get("engines")
        except (ValueError, AttributeError):
            engines = None  # the buildpack reports a broken package.json
        wanted = engines.get("node") if isinstance(engines, dict) else None
        if isinstance(wanted, str) and wanted.strip():
            return Request(wanted.strip(), "package.json engines.node")
    for name in (".node-version", ".nvmrc"):
        text = read_app_file(app_dir, name)
        if text is not None and _first_line(text):
            return Request(_first_line(text), name)
    return None


def python_request(app_dir: Path) -> Request | None:
    """The Python version (or PEP 440 specifier) the app asks for, or None when it names none."""
    text = read_app_file(app_dir, ".python-version")
    if text is not None and _first_line(text):
        return Request(_first_line(text), ".python-version")
    text = read_app_file(app_dir, "runtime.txt")
    if text is not None and _first_line(text):
        return Request(_first_line(text), "runtime.txt")
    for name in ("pyproject.toml", "uv.lock"):
        text = read_app_file(app_dir, name, PACKAGE_JSON_BYTES)
        match = _REQUIRES_PYTHON.search(text or "")
        if match and match[1].strip():
            return Request(match[1].strip(), f"{name} requires-python")
    return None
