"""Reading files a tenant controls (a build's output, the pushed tree) on the host, safely.

A build can leave a symbolic link where Wharf expects a file (`ln -s /var/lib/wharf/secret.key
/output/buildpacks` in an npm `postinstall`), a link in place of a folder above it, a FIFO that never
answers, or a file of many gigabytes. Every such read goes through ``read_tenant_file``: each path
component is opened relative to the folder before it with ``O_NOFOLLOW``, so no link is followed and
nothing outside ROOT is reached; the file must be a regular file, and at most MAX_BYTES long.
"""

from __future__ import annotations

import os
import re
import stat
import tarfile
from collections.abc import Container, Sequence
from pathlib import Path

DEFAULT_MAX_BYTES = 1024 * 1024
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY
_SAFE_COMPONENT = re.compile(r"[^/\x00]+")


class UnsafeTenantFile(Exception):
    """A file the host was to read is a link, not a regular file, or too large; the message says which."""


def _components(relative: str) -> list[str]:
    parts = [part for part in relative.split("/") if part not in ("", ".")]
    unsafe = any(part == ".." or not _SAFE_COMPONENT.fullmatch(part) for part in parts)
    if relative.startswith("/") or not parts or unsafe:
        raise ValueError(f"{relative!r} is not a path inside a folder")
    return parts


def _open_below(root: Path, parts: list[str], shown: str) -> int | None:
    """A descriptor of the folder holding the last of PARTS, or None when a folder is missing."""
    try:
        fd = os.open(root, _DIR_FLAGS)
    except FileNotFoundError:
        return None
    try:
        for part in parts[:-1]:
            try:
                next_fd = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                return None
            except (NotADirectoryError, OSError) as error:
                raise UnsafeTenantFile(
                    f"{shown}: {part} is a symbolic link or not a folder; "
                    "Wharf does not follow links in what a build leaves."
                ) from error
            os.close(fd)
            fd = next_fd
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_tenant_file(
    root: Path, relative: str, *, max_bytes: int = DEFAULT_MAX_BYTES, shown_as: str | None = None
) -> bytes | None:
    """The content of ROOT/RELATIVE, or None when it does not exist.

    Raises UnsafeTenantFile when it, or a folder on the way, is a symbolic link, when it is not a regular
    file, or when it is longer than MAX_BYTES. ROOT itself is a folder Wharf made. SHOWN_AS names the
    file in messages (default: RELATIVE).
    """
    parts = _components(relative)
    shown = shown_as or "/".join(parts)
    dir_fd = _open_below(root, parts, shown)
    if dir_fd is None:
        return None
    try:
        try:
            fd = os.open(parts[-1], _FILE_FLAGS, dir_fd=dir_fd)
        except FileNotFoundError:
            return None
        except OSError as error:
            raise UnsafeTenantFile(
                f"{shown} is a symbolic link; Wharf reads it only as a regular file, never through a link. "
                "Leave the file itself there."
            ) from error
    finally:
        os.close(dir_fd)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UnsafeTenantFile(f"{shown} is not a regular file.")
        if info.st_size > max_bytes:
            raise UnsafeTenantFile(f"{shown} is {info.st_size} bytes, over the {max_bytes} byte limit.")
        data = os.read(fd, max_bytes + 1) if max_bytes else b""
        chunks = [data]
        total = len(data)
        while data and total <= max_bytes:
            data = os.read(fd, max_bytes + 1 - total)
            chunks.append(data)
            total += len(data)
        if total > max_bytes:
            raise UnsafeTenantFile(f"{shown} is over the {max_bytes} byte limit.")
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_tenant_text(
    root: Path, relative: str, *, max_bytes: int = DEFAULT_MAX_BYTES, shown_as: str | None = None
) -> str | None:
    """``read_tenant_file`` decoded as UTF-8, undecodable bytes replaced."""
    data = read_tenant_file(root, relative, max_bytes=max_bytes, shown_as=shown_as)
    return None if data is None else data.decode("utf-8", errors="replace")


def tenant_file_names(root: Path, pattern: re.Pattern[str], *, limit: int) -> list[str]:
    """Names of the entries directly in ROOT that fully match PATTERN (at most LIMIT, else refused)."""
    try:
        fd = os.open(root, _DIR_FLAGS)
    except FileNotFoundError:
        return []
    try:
        names = [name for name in os.listdir(fd) if pattern.fullmatch(name)]
    finally:
        os.close(fd)
    if len(names) > limit:
        raise UnsafeTenantFile(
            f"The build wrote {len(names)} files named like {pattern.pattern}; at most {limit} are read."
        )
    return names


def _shown_path(path: str) -> str:
    return path[:200].encode("unicode_escape").decode("ascii")


def _resolve_inside(parts: list[str], links: dict[str, str], hops: int = 0) -> list[str] | None:
    """PARTS (relative to the tree) resolved through the tree's own links; None when that leaves it."""
    resolved: list[str] = []
    for part in parts:
        if part in ("", "."):
            continue
        if part == "..":
            if not resolved:
                return None
            resolved.pop()
            continue
        candidate = "/".join([*resolved, part])
        target = links.get(candidate)
        if target is None:
            resolved.append(part)
            continue
        if target.startswith("/") or hops >= 40:
            return None
        followed = _resolve_inside([*resolved, *target.split("/")], links, hops + 1)
        if followed is None:
            return None
        resolved = followed
    return resolved


def link_above(parts: Sequence[str], links: Container[str]) -> str | None:
    """The first folder on the way to the path PARTS that is one of LINKS (names in a tree), if any:
    an archive member stored under it would be written through the link."""
    for depth in range(1, len(parts)):
        above = "/".join(parts[:depth])
        if above in links:
            return above
    return None


def check_tree_members(members: list[tarfile.TarInfo]) -> None:
    """Refuse, naming the file, a pushed tree that could write or point outside itself when unpacked.

    Only files, folders and links; no absolute or `..` names; nothing stored under a link; every link
    resolves (through the tree's other links) to a path inside the tree.
    """
    links = {member.name.rstrip("/"): member.linkname for member in members if member.issym()}
    for member in members:
        name = member.name.rstrip("/")
        parts = name.split("/")
        if (
            name.startswith("/")
            or ".." in parts
            or "\x00" in name
            or not (member.isreg() or member.isdir() or member.issym())
        ):
            raise UnsafeTenantFile(
                f"The pushed tree has {_shown_path(name)}, which is not a plain file, folder or link "
                "inside the app. Remove it from git."
            )
        above = link_above(parts, links)
        if above is not None:
            raise UnsafeTenantFile(
                f"The pushed tree has {_shown_path(name)} under the link "
                f"{_shown_path(above)}. Commit the folder itself in place of the link."
            )
        if member.issym() and (
            member.linkname.startswith("/")
            or _resolve_inside([*parts[:-1], *member.linkname.split("/")], links) is None
        ):
            raise UnsafeTenantFile(
                f"The pushed tree has {_shown_path(name)}, a link to {_shown_path(member.linkname)} outside "
                "the app; Wharf does not follow links out of the app. "
                "Commit the file itself in place of the link."
            )
