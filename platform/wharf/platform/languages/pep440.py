"""The part of PEP 440 specifiers that `requires-python` uses (`>=3.10,<3.13`, `~=3.11`, `==3.12.*`),
plus Poetry's `^3.11` and `~3.11`, over plain (major, minor, patch) versions."""

from __future__ import annotations

import re

from wharf.platform.languages.semver import RangeError, Version, satisfies

_CLAUSE = re.compile(r"(===|==|!=|~=|>=|<=|>|<)\s*v?(\d+(?:\.\d+)*)(\.\*)?")


def _numbers(text: str) -> list[int]:
    return [int(part) for part in text.split(".")]


def _padded(numbers: list[int]) -> Version:
    padded = [*numbers, 0, 0, 0][:3]
    return (padded[0], padded[1], padded[2])


def _clause_holds(version: Version, operator: str, numbers: list[int], wildcard: bool) -> bool:
    if operator in ("==", "===", "!=") and wildcard:
        equal = list(version[: len(numbers)]) == numbers
        return equal if operator != "!=" else not equal
    target = _padded(numbers)
    if operator == "~=":
        if len(numbers) < 2:
            raise RangeError("~= needs at least two parts (for example ~=3.11)")
        return version >= target and list(version[: len(numbers) - 1]) == numbers[:-1]
    return {
        "==": version == target,
        "===": version == target,
        "!=": version != target,
        ">=": version >= target,
        "<=": version <= target,
        ">": version > target,
        "<": version < target,
    }[operator]


def specifier_allows(version: Version, specifier: str) -> bool:
    """Whether VERSION meets SPECIFIER; RangeError when it cannot be read."""
    text = specifier.strip()
    if text.startswith(("^", "~")) and not text.startswith("~="):
        return satisfies(version, text)  # Poetry's caret and tilde follow npm's meaning
    clauses = [part.strip() for part in text.split(",") if part.strip()]
    if not clauses:
        raise RangeError("the specifier is empty")
    for clause in clauses:
        match = _CLAUSE.fullmatch(clause)
        if not match:
            raise RangeError(f"'{clause}' is not a version specifier")
        if not _clause_holds(version, match[1], _numbers(match[2]), bool(match[3])):
            return False
    return True
