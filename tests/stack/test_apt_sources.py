"""The stack is built from the Debian mirror the host's apt sources name."""

from __future__ import annotations

from pathlib import Path

from wharf.platform.stack.apt_sources import host_mirrors
from wharf.platform.stack.images import _apt_lines, _mmdebstrap_argv


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_deb822_sources_give_main_and_security_mirrors(tmp_path: Path) -> None:
    write(
        tmp_path / "sources.list.d/debian.sources",
        (
            "Types: deb\n# http://snapshot.debian.org/archive/debian/20250520T000000Z\n"
            "URIs: http://mirror.example/debian/\nSuites: bookworm bookworm-updates\nComponents: main\n\n"
            "Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n"
            "Components: main\n"
        ),
    )
    mirrors = host_mirrors(tmp_path)
    assert mirrors.main == "http://mirror.example/debian"
    assert mirrors.security == "http://mirror.example/debian-security"


def test_one_line_sources_list_and_defaults(tmp_path: Path) -> None:
    assert host_mirrors(tmp_path).main == "http://deb.debian.org/debian"
    write(
        tmp_path / "sources.list",
        (
            "# deb http://commented.example/debian bookworm main\n"
            "deb-src http://src.example/debian bookworm main\n"
            "deb [arch=amd64 signed-by=/k.gpg] http://one.example/debian bookworm main\n"
        ),
    )
    assert host_mirrors(tmp_path).main == "http://one.example/debian"
    assert host_mirrors(tmp_path).security == "http://deb.debian.org/debian-security"


def test_disabled_deb822_entries_are_ignored(tmp_path: Path) -> None:
    write(
        tmp_path / "sources.list.d/off.sources",
        "Enabled: no\nTypes: deb\nURIs: http://off.example/debian\nSuites: trixie\n",
    )
    assert host_mirrors(tmp_path).main == "http://deb.debian.org/debian"


def test_mmdebstrap_command_uses_the_mirror_and_adds_the_dyno_user(tmp_path: Path) -> None:
    argv = _mmdebstrap_argv(suite="trixie", mirror="http://m.example/debian", tarball=tmp_path / "r.tar")
    assert argv[0] == "mmdebstrap"
    assert "--variant=minbase" in argv
    assert "deb http://m.example/debian trixie main" in argv
    assert any("useradd --uid 1000" in arg and "dyno" in arg for arg in argv)
    assert _apt_lines("sid", "http://m.example/debian") == ["deb http://m.example/debian sid main"]
