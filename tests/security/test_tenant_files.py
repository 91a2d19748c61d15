"""Reading what a build left, and unpacking a pushed tree: links, FIFOs, huge files and escapes refused."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from wharf.platform.builds.tenant_files import UnsafeTenantFile, check_tree_members, read_tenant_file


@pytest.fixture
def host_secret(tmp_path: Path) -> Path:
    secret = tmp_path / "secret.key"
    secret.write_text("host secret\n")
    return secret


def test_a_regular_file_is_read_and_a_missing_one_is_none(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "buildpacks").write_text("Node.js\n")
    assert read_tenant_file(tmp_path / "out", "buildpacks") == b"Node.js\n"
    assert read_tenant_file(tmp_path / "out", "missing") is None
    assert read_tenant_file(tmp_path / "out", "no/such/dir") is None


def test_a_link_as_the_file_is_refused(tmp_path: Path, host_secret: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "buildpacks").symlink_to(host_secret)
    with pytest.raises(UnsafeTenantFile, match="buildpacks is a symbolic link"):
        read_tenant_file(tmp_path / "out", "buildpacks")


def test_a_link_as_a_folder_on_the_way_is_refused(tmp_path: Path, host_secret: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / ".wharf").symlink_to(host_secret.parent)
    with pytest.raises(UnsafeTenantFile, match="symbolic link or not a folder"):
        read_tenant_file(tmp_path / "app", ".wharf/secret.key")


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "Procfile")
    with pytest.raises(UnsafeTenantFile, match="not a regular file"):
        read_tenant_file(tmp_path, "Procfile")


def test_a_file_over_the_cap_is_refused(tmp_path: Path) -> None:
    (tmp_path / "Procfile").write_bytes(b"x" * 2048)
    with pytest.raises(UnsafeTenantFile, match="over the 1024 byte limit"):
        read_tenant_file(tmp_path, "Procfile", max_bytes=1024)


@pytest.mark.parametrize("relative", ["../secret.key", "/etc/passwd", "a/../../b"])
def test_paths_leaving_the_folder_are_not_even_tried(tmp_path: Path, relative: str) -> None:
    with pytest.raises(ValueError, match="not a path inside a folder"):
        read_tenant_file(tmp_path, relative)


def _members(*entries: tuple[str, str | None]) -> list[tarfile.TarInfo]:
    """Tar members: (name, link target) for links, (name, None) for files; names ending / are folders."""
    infos = []
    for name, target in entries:
        info = tarfile.TarInfo(name.rstrip("/"))
        if target is not None:
            info.type, info.linkname = tarfile.SYMTYPE, target
        elif name.endswith("/"):
            info.type = tarfile.DIRTYPE
        infos.append(info)
    return infos


@pytest.mark.parametrize(
    "entries",
    [
        [("Procfile", "/var/lib/wharf/secret.key")],
        [("Procfile", "../../secret.key")],
        [("d/", None), ("d/up", ".."), ("escape", "d/up/..")],  # each link lexically inside, the chain not
        [("loop", "loop2"), ("loop2", "loop")],
        [("link", "d"), ("link/file", None)],
        [("../x", None)],
    ],
)
def test_trees_that_point_or_write_outside_are_refused(entries: list[tuple[str, str | None]]) -> None:
    with pytest.raises(UnsafeTenantFile, match="The pushed tree has"):
        check_tree_members(_members(*entries))


def test_links_inside_the_tree_are_kept() -> None:
    check_tree_members(
        _members(("bin/", None), ("bin/app", None), ("start", "bin/app"), ("bin/up", "../start"))
    )


def test_git_archive_member_names_are_checked_as_tarfile_reads_them() -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        archive.addfile(_members(("Procfile", "/etc/passwd"))[0])
    buffer.seek(0)
    with (
        tarfile.open(fileobj=buffer) as archive,
        pytest.raises(UnsafeTenantFile, match="Procfile, a link to"),
    ):
        check_tree_members(archive.getmembers())
