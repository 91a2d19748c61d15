"""Reusing the buildpack output of the last build when nothing it was made from has changed.

A buildpack's bin/compile may read any file of the app, so by default every build compiles again.
Wharf's built-in buildpacks can say what their compile read: each writes the relative paths of the
files it depends on to the file named by $WHARF_REUSE_INPUTS (an extension of the buildpack API that
other buildpacks simply ignore). When every buildpack of a build said so, the build is reusable, and
its key covers everything that decides the buildpack output:

- the build and run images, and the built-in buildpacks themselves;
- the app's config vars (bin/compile sees them in ENV_DIR);
- the files that decide which buildpacks apply (requirements.txt, package.json, Procfile, ...);
- the files the buildpacks declared.

The next build of the app computes the same key from its own source; when it matches, the recorded
dependency image is used as is and only the source is layered on it. Records live outside the
per-app build cache, which the build container can write.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import stat
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

KEY_FORMAT = "wharf-reuse-1"
# A declared input larger than this is not read for the reuse key (the build then runs in full).
MAX_DIGEST_BYTES = 64 * 1024 * 1024
# Files whose presence or content decides which built-in buildpack detects, or how the app is cut.
DETECTION_FILES = (
    ".buildpacks",
    ".slugignore",
    "Procfile",
    "Dockerfile",
    "requirements.txt",
    "pyproject.toml",
    "uv.lock",
    "poetry.lock",
    "setup.py",
    "Pipfile",
    "package.json",
    "index.html",
    "Gemfile",
    "go.mod",
    "composer.json",
)
INPUT_PATH = re.compile(r"[A-Za-z0-9._+@-]+(/[A-Za-z0-9._+@-]+)*")


@dataclass(frozen=True)
class ReuseRecord:
    """What a reusable build left for the next one."""

    key: str
    inputs: list[str]
    dependency_image: str
    dependency_bytes: int
    buildpacks: list[str]
    process_types: dict[str, str]
    config_vars: dict[str, str]


def valid_inputs(declared: Iterable[str]) -> list[str] | None:
    """The declared paths, sorted; None when one of them could name a file outside the app."""
    paths = sorted({line.strip() for line in declared if line.strip()})
    for path in paths:
        if not INPUT_PATH.fullmatch(path) or ".." in path.split("/"):
            return None
    return paths


def _file_digest(source_dir: Path, relative: str) -> str:
    """A digest of one file of the app, never following a link out of it."""
    path = source_dir / relative
    root = source_dir.resolve()
    if not os.path.lexists(path):
        return "absent"
    if path.is_symlink():
        return "link:" + os.readlink(path)
    if not path.resolve().is_relative_to(root):
        return "outside"
    if path.is_dir():
        return "directory"
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return "unreadable"
    with os.fdopen(descriptor, "rb") as handle:
        status = os.fstat(handle.fileno())
        if not stat.S_ISREG(status.st_mode):
            return "special"
        if status.st_size > MAX_DIGEST_BYTES:
            # Too large to read for a cache key: the build never reuses an earlier one's output.
            return "large:" + secrets.token_hex(16)
        digest = hashlib.sha256()
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def tree_digest(directory: Path) -> str:
    """A digest of every file under DIRECTORY (the built-in buildpacks), names and contents."""
    digest = hashlib.sha256()
    for current, dirs, files in os.walk(directory):
        dirs.sort()
        for name in sorted(files):
            path = Path(current) / name
            digest.update(str(path.relative_to(directory)).encode() + b"\0")
            digest.update(_file_digest(path.parent, name).encode() + b"\0")
            digest.update(b"x" if os.access(path, os.X_OK) else b"-")
    return digest.hexdigest()


def reuse_key(
    *,
    source_dir: Path,
    inputs: Sequence[str],
    config: Mapping[str, str],
    images: Sequence[str],
    buildpacks_digest: str,
) -> str:
    """The key of the buildpack output that SOURCE_DIR would get with these settings."""
    parts = {
        "format": KEY_FORMAT,
        "images": list(images),
        "buildpacks": buildpacks_digest,
        "config": sorted(config.items()),
        "files": {name: _file_digest(source_dir, name) for name in sorted({*DETECTION_FILES, *inputs})},
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


class ReuseStore:
    """One record per app, as JSON files in a directory only Wharf writes."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, app_name: str) -> Path:
        return self.directory / f"{app_name}.json"

    def load(self, app_name: str) -> ReuseRecord | None:
        try:
            return ReuseRecord(**json.loads(self._path(app_name).read_text()))
        except (FileNotFoundError, TypeError, ValueError):
            return None

    def save(self, app_name: str, record: ReuseRecord) -> None:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = self._path(app_name)
        partial = path.with_suffix(".tmp")
        partial.write_text(json.dumps(asdict(record), sort_keys=True))
        partial.replace(path)

    def forget(self, app_name: str) -> None:
        self._path(app_name).unlink(missing_ok=True)
