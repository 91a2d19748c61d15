"""npm's range grammar as `engines.node` uses it, against a list of released versions."""

from __future__ import annotations

import pytest

from wharf.platform.languages.semver import RangeError, max_satisfying, parse_version, satisfies

RELEASES = [
    (16, 20, 2), (18, 0, 0), (18, 19, 1), (18, 20, 8), (20, 0, 0), (20, 11, 1), (20, 19, 5),
    (22, 0, 0), (22, 12, 0), (22, 23, 5), (23, 11, 1), (24, 0, 0), (24, 22, 3),
]  # fmt: skip


@pytest.mark.parametrize(
    ("wanted", "chosen"),
    [
        ("18.x", (18, 20, 8)),
        ("18.X", (18, 20, 8)),
        ("18.*", (18, 20, 8)),
        ("18", (18, 20, 8)),
        ("v18", (18, 20, 8)),
        ("18.19", (18, 19, 1)),
        ("18.19.x", (18, 19, 1)),
        ("18.20.8", (18, 20, 8)),
        ("v18.20.8", (18, 20, 8)),
        ("=18.19.1", (18, 19, 1)),
        (">=20 <23", (22, 23, 5)),
        (">= 20 < 23", (22, 23, 5)),
        (">=20.0.0 <23.0.0", (22, 23, 5)),
        ("^22", (22, 23, 5)),
        ("^22.12.0", (22, 23, 5)),
        ("^20.11", (20, 19, 5)),
        ("~20.11", (20, 11, 1)),
        ("~20.11.0", (20, 11, 1)),
        ("~>20.11", (20, 11, 1)),
        ("~20", (20, 19, 5)),
        ("24", (24, 22, 3)),
        ("24.x", (24, 22, 3)),
        (">=18", (24, 22, 3)),
        (">18", (24, 22, 3)),
        (">18.20.8 <20", None),
        (">=18 <=20", (20, 19, 5)),
        ("<=20.11", (20, 11, 1)),
        ("<20", (18, 20, 8)),
        ("<18.20", (18, 19, 1)),
        ("18 - 20", (20, 19, 5)),
        ("18.0.0 - 20.11.1", (20, 11, 1)),
        ("18 - 20.0", (20, 0, 0)),
        ("16.x || 18.x", (18, 20, 8)),
        ("^16 || ^18 || ^20", (20, 19, 5)),
        ("*", (24, 22, 3)),
        ("x", (24, 22, 3)),
        ("", (24, 22, 3)),
        ("99.x", None),
        (">=25", None),
        ("^0.10", None),
        ("22.0.0-rc.1", (22, 0, 0)),
    ],
)
def test_max_satisfying(wanted: str, chosen: tuple[int, int, int] | None) -> None:
    assert max_satisfying(RELEASES, wanted) == chosen


@pytest.mark.parametrize(
    ("version", "wanted", "expected"),
    [
        ((0, 2, 5), "^0.2.3", True),
        ((0, 3, 0), "^0.2.3", False),
        ((0, 0, 3), "^0.0.3", True),
        ((0, 0, 4), "^0.0.3", False),
        ((1, 9, 9), "^1.x", True),
        ((2, 0, 0), "^1.x", False),
        ((18, 17, 0), "^18.17.0 || >=20.5.0", True),
        ((18, 16, 9), "^18.17.0 || >=20.5.0", False),
        ((20, 17, 0), "^20.17.0 || >=22.9.0", True),
        ((22, 8, 0), "^20.17.0 || >=22.9.0", False),
    ],
)
def test_satisfies(version: tuple[int, int, int], wanted: str, expected: bool) -> None:
    assert satisfies(version, wanted) is expected


@pytest.mark.parametrize("wanted", ["eighteen", ">=abc", "18.x.y.z", "^", "1.2.3.4"])
def test_unreadable_ranges_are_refused(wanted: str) -> None:
    with pytest.raises(RangeError):
        max_satisfying(RELEASES, wanted)


def test_parse_version_takes_only_complete_versions() -> None:
    assert parse_version("v24.22.3") == (24, 22, 3)
    assert parse_version("24.22") is None
    assert parse_version("24.22.3-rc.1") is None
