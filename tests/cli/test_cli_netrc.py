"""~/.netrc editing: our entry is written, replaced and removed; everything else stays as it was."""

from __future__ import annotations

import netrc
import stat
from pathlib import Path

from wharf.cli import netrc_file

OTHER = """# personal machines
machine github.com
  login octocat
  password ghp_secret

machine api.heroku.com login me@example.com password heroku-token
"""


def test_write_adds_entry_with_mode_0600_and_keeps_other_machines(tmp_path: Path) -> None:
    path = tmp_path / ".netrc"
    path.write_text(OTHER)
    path.chmod(0o644)

    netrc_file.write_entry("wharf.example.com", "ann@example.com", "tok-1", path)

    text = path.read_text()
    assert text.startswith(OTHER)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    parsed = netrc.netrc(str(path))
    assert parsed.authenticators("wharf.example.com") == ("ann@example.com", "", "tok-1")
    assert parsed.authenticators("github.com") == ("octocat", "", "ghp_secret")
    assert parsed.authenticators("api.heroku.com") == ("me@example.com", "", "heroku-token")


def test_write_replaces_existing_entry_in_place_of_duplicating(tmp_path: Path) -> None:
    path = tmp_path / ".netrc"
    path.write_text("machine wharf.test login old@example.com password old-token\n" + OTHER)

    netrc_file.write_entry("wharf.test", "new@example.com", "new-token", path)

    text = path.read_text()
    assert text.count("machine wharf.test") == 1
    assert "old-token" not in text
    assert OTHER in text
    assert netrc_file.read_entry("wharf.test", path) == netrc_file.NetrcEntry(
        "wharf.test", "new@example.com", "new-token"
    )


def test_remove_deletes_only_our_entry(tmp_path: Path) -> None:
    path = tmp_path / ".netrc"
    path.write_text("machine github.com\n  login octocat\n  password a\n# keep me\n")
    netrc_file.write_entry("127.0.0.1", "ann@example.com", "tok", path)

    assert netrc_file.remove_entry("127.0.0.1", path) is True

    assert path.read_text() == "machine github.com\n  login octocat\n  password a\n# keep me\n"
    assert netrc_file.read_entry("127.0.0.1", path) is None
    assert netrc_file.remove_entry("127.0.0.1", path) is False


def test_comment_after_our_entry_survives_removal(tmp_path: Path) -> None:
    path = tmp_path / ".netrc"
    path.write_text(
        "machine wharf.test login a password b\n# github below\nmachine github.com login o password p\n"
    )

    netrc_file.remove_entry("wharf.test", path)

    assert path.read_text() == "# github below\nmachine github.com login o password p\n"


def test_macro_bodies_and_default_entries_are_not_mistaken_for_machines(tmp_path: Path) -> None:
    path = tmp_path / ".netrc"
    macro = "macdef init\nmachine wharf.test login fake password fake\n\n"
    default = "default login anonymous password x\n"
    path.write_text(macro + default)

    assert netrc_file.read_entry("wharf.test", path) is None
    netrc_file.write_entry("wharf.test", "ann@example.com", "tok", path)

    text = path.read_text()
    assert text.startswith(macro) and text.endswith(default), "default must stay last for curl"
    assert netrc.netrc(str(path)).authenticators("wharf.test") == ("ann@example.com", "", "tok")
    assert netrc_file.read_entry("wharf.test", path) == netrc_file.NetrcEntry(
        "wharf.test", "ann@example.com", "tok"
    )


def test_values_with_spaces_are_quoted_so_standard_parsers_read_them(tmp_path: Path) -> None:
    path = tmp_path / ".netrc"

    netrc_file.write_entry("wharf.test", "ann@example.com", 'pass "with" spaces', path)

    assert netrc.netrc(str(path)).authenticators("wharf.test") == (
        "ann@example.com",
        "",
        'pass "with" spaces',
    )
    assert netrc_file.read_entry("wharf.test", path) == netrc_file.NetrcEntry(
        "wharf.test", "ann@example.com", 'pass "with" spaces'
    )


def test_missing_file_reads_as_empty(tmp_path: Path) -> None:
    assert netrc_file.read_entry("wharf.test", tmp_path / "absent") is None
    assert netrc_file.remove_entry("wharf.test", tmp_path / "absent") is False


def test_hash_inside_a_value_is_not_a_comment(tmp_path: Path) -> None:
    path = tmp_path / ".netrc"
    path.write_text("machine wharf.test login ann password #hash-first # trailing comment\n")

    assert netrc_file.read_entry("wharf.test", path) == netrc_file.NetrcEntry(
        "wharf.test", "ann", "#hash-first"
    )
    assert netrc_file.remove_entry("wharf.test", path)
    assert path.read_text() == "# trailing comment\n"
