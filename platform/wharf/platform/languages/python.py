"""Resolve the Python an app asks for against the interpreters on offer: the build image's own
(`/usr/bin/python3.X`) and any CPython installed in the host's runtime cache (RUNTIMES/python/<version>)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from wharf.platform.languages.node import VersionUnavailable
from wharf.platform.languages.pep440 import specifier_allows
from wharf.platform.languages.semver import RangeError, Version, format_version, parse_version
from wharf.platform.languages.version_files import Request

OLDEST_SUPPORTED = (3, 10)
COMPLETE_MARKER = ".wharf-runtime.json"
_EXACT = re.compile(r"(?:cpython-|python-|python)?(\d+)\.(\d+)(?:\.(\d+))?(?:[-+][0-9A-Za-z._+-]*)?")


@dataclass(frozen=True)
class Interpreter:
    """An interpreter on offer: its version and where it lives (in the builder, for the buildpack)."""

    version: Version
    path: str
    from_stack: bool


def cached_interpreters(runtimes_dir: Path) -> list[Interpreter]:
    """CPython builds installed in the runtime cache; the builder sees them under /runtimes."""
    found = []
    folder = runtimes_dir / "python"
    for entry in sorted(folder.iterdir()) if folder.is_dir() else []:
        version = parse_version(entry.name)
        if version and (entry / COMPLETE_MARKER).is_file():
            found.append(Interpreter(version, f"/runtimes/python/{entry.name}/bin/python3", from_stack=False))
    return found


class VersionUnsupported(VersionUnavailable):
    """A line older than Wharf builds: refused at once, without looking for it in Debian's archive."""


def _offer(interpreters: list[Interpreter]) -> str:
    ordered = sorted(interpreters, key=lambda i: (not i.from_stack, i.version))
    return ", ".join(
        f"{i.version[0]}.{i.version[1]}" if i.from_stack else format_version(i.version) for i in ordered
    )


def _unavailable(request: Request, offered: list[Interpreter]) -> VersionUnavailable:
    return VersionUnavailable(
        f"Python {request.text} is not available on this stack (asked for in {request.origin}).\n"
        f"Versions on offer: {_offer(offered)}\n"
        f"Change {request.origin} to one of them and push again."
    )


def choose_interpreter(request: Request, offered: list[Interpreter]) -> Interpreter:
    """The interpreter for REQUEST: an exact version or major.minor, else the stack's (or the newest)
    that a `requires-python` specifier allows."""
    exact = _EXACT.fullmatch(request.text.strip())
    if exact:
        major, minor = int(exact[1]), int(exact[2])
        patch = int(exact[3]) if exact[3] else None
        if (major, minor) < OLDEST_SUPPORTED:
            oldest = ".".join(map(str, OLDEST_SUPPORTED))
            raise VersionUnsupported(
                f"{_unavailable(request, offered)}\n"
                f"Python {major}.{minor} is past its end of life; Wharf builds Python {oldest} and newer."
            )
        same_line = [i for i in offered if i.version[:2] == (major, minor)]
        precise = [i for i in same_line if patch is None or i.version[2] == patch]
        # An exact patch release that is not on offer is served by the same line (as pip's ~= would).
        candidates = precise or same_line
        if not candidates:
            raise _unavailable(request, offered)
        return max(candidates, key=lambda i: (i.version, i.from_stack))
    try:
        allowed = [i for i in offered if specifier_allows(i.version, request.text)]
    except RangeError as error:
        raise VersionUnavailable(
            f"Cannot read the Python version '{request.text}' in {request.origin}: {error}. "
            "Write a version such as 3.13 in .python-version."
        ) from error
    if not allowed:
        raise _unavailable(request, offered)
    stack = [i for i in allowed if i.from_stack]
    return max(stack or allowed, key=lambda i: i.version)


def stack_interpreters_from(report: str) -> list[Interpreter]:
    """Parse `path version` lines as the build image prints them."""
    found = []
    for line in report.splitlines():
        path, _, text = line.partition(" ")
        version = parse_version(text)
        if version and re.fullmatch(r"/usr/bin/python3\.\d+", path):
            found.append(Interpreter(version, path, from_stack=True))
    return found


def write_marker(target: Path, version: Version, how: str) -> None:
    (target / COMPLETE_MARKER).write_text(json.dumps({"python": format_version(version), "how": how}))
