"""`.slugignore`: files the app keeps in git but never ships, removed before any buildpack runs.

As on Heroku, the syntax is .gitignore's without negation: `*.psd` matches at any depth, `/docs` or
`spec/*.rb` match from the root, and a trailing slash matches directories only.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from wharf.platform.builds.tenant_files import read_tenant_text

SLUGIGNORE_MAX_BYTES = 256 * 1024


@dataclass(frozen=True)
class SlugIgnorePattern:
    """One `.slugignore` line, compiled."""

    glob: str
    anchored: bool
    directories_only: bool

    def matches(self, relative_path: str, is_dir: bool) -> bool:
        if self.directories_only and not is_dir:
            return False
        subject = relative_path if self.anchored else relative_path.rsplit("/", 1)[-1]
        return _glob_regex(self.glob).fullmatch(subject) is not None


def _glob_regex(glob: str) -> re.Pattern[str]:
    """Git's wildcards: `*` and `?` stay within one path segment, `**` crosses segments."""
    parts: list[str] = []
    index = 0
    while index < len(glob):
        if glob.startswith("**", index):
            parts.append(".*")
            index += 2
        elif glob[index] == "*":
            parts.append("[^/]*")
            index += 1
        elif glob[index] == "?":
            parts.append("[^/]")
            index += 1
        else:
            parts.append(re.escape(glob[index]))
            index += 1
    return re.compile("".join(parts))


def parse_slugignore(text: str) -> list[SlugIgnorePattern]:
    """Patterns from the file's text; blank lines, comments and `!` negations (unsupported) are skipped."""
    patterns: list[SlugIgnorePattern] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", "!")):
            continue
        directories_only = line.endswith("/")
        line = line.rstrip("/")
        anchored = "/" in line
        glob = line.lstrip("/")
        if glob:
            patterns.append(
                SlugIgnorePattern(glob=glob, anchored=anchored, directories_only=directories_only)
            )
    return patterns


def apply_slugignore(build_dir: Path) -> list[str]:
    """Delete what BUILD_DIR/.slugignore names; returns the removed paths, relative, for the build output."""
    text = read_tenant_text(build_dir, ".slugignore", max_bytes=SLUGIGNORE_MAX_BYTES)
    if text is None:
        return []
    patterns = parse_slugignore(text)
    removed: list[str] = []
    for current, dirs, files in os.walk(build_dir):
        base = Path(current).relative_to(build_dir).as_posix()
        prefix = "" if base == "." else base + "/"
        for name in list(dirs):
            relative = prefix + name
            if any(p.matches(relative, is_dir=True) for p in patterns):
                path = Path(current) / name
                if path.is_symlink():
                    path.unlink()
                else:
                    shutil.rmtree(path)
                dirs.remove(name)
                removed.append(relative + "/")
        for name in files:
            relative = prefix + name
            if any(p.matches(relative, is_dir=False) for p in patterns):
                (Path(current) / name).unlink()
                removed.append(relative)
    return removed
