"""npm's semver ranges (`18.x`, `>=20 <23`, `^22`, `~18.19`, `1.2 - 2.3`, `a || b`) over release versions.

Node.js releases carry no prerelease tags, so versions here are plain (major, minor, patch) triples and
prerelease parts of a range are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

Version = tuple[int, int, int]
# One bound: an operator (<, <=, >, >=, =) and a version.
Bound = tuple[str, Version]

_VERSION = re.compile(r"v?(\d+)\.(\d+)\.(\d+)")
_PARTIAL = re.compile(r"v?(\d+|[xX*])(?:\.(\d+|[xX*]))?(?:\.(\d+|[xX*]))?(?:[-+][0-9A-Za-z.+-]*)?")
_COMPARATOR = re.compile(r"(<=|>=|<|>|=|~>|~|\^)?(.*)")


class RangeError(ValueError):
    """The text is not a version range npm would accept."""


def parse_version(text: str) -> Version | None:
    """(18, 20, 8) for `18.20.8` or `v18.20.8`; None for anything else."""
    match = _VERSION.fullmatch(text.strip())
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


def format_version(version: Version) -> str:
    return ".".join(str(part) for part in version)


def _partial(text: str) -> list[int]:
    """The numbers a partial version names, up to its first wildcard: `18.x` -> [18]."""
    match = _PARTIAL.fullmatch(text)
    if not match:
        raise RangeError(f"'{text}' is not a version")
    numbers: list[int] = []
    for group in match.groups():
        if group is None or group in "xX*":
            break
        numbers.append(int(group))
    return numbers


def _floor(numbers: list[int]) -> Version:
    padded = [*numbers, 0, 0, 0][:3]
    return (padded[0], padded[1], padded[2])


def _next(numbers: list[int]) -> Version:
    """The first version past every version NUMBERS names: [18] -> 19.0.0, [18, 2] -> 18.3.0."""
    bumped = [*numbers[:-1], numbers[-1] + 1]
    return _floor(bumped)


def _caret(numbers: list[int]) -> list[Bound]:
    if not numbers:
        return []
    lower = (">=", _floor(numbers))
    # The first non-zero part (or the last part named) may not change.
    significant = next((i for i, n in enumerate(numbers) if n != 0), len(numbers) - 1)
    return [lower, ("<", _next(numbers[: significant + 1]))]


def _tilde(numbers: list[int]) -> list[Bound]:
    if not numbers:
        return []
    return [(">=", _floor(numbers)), ("<", _next(numbers[:2]))]


def _comparator(text: str) -> list[Bound]:
    match = _COMPARATOR.fullmatch(text)
    assert match is not None
    operator, numbers = match[1] or "=", _partial(match[2])
    if operator == "^":
        return _caret(numbers)
    if operator in ("~", "~>"):
        return _tilde(numbers)
    if not numbers:
        return [("<", (0, 0, 0))] if operator in ("<", ">") else []
    complete = len(numbers) == 3
    if operator == "=":
        return [("=", _floor(numbers))] if complete else [(">=", _floor(numbers)), ("<", _next(numbers))]
    if operator == ">":
        return [(">", _floor(numbers))] if complete else [(">=", _next(numbers))]
    if operator == "<=":
        return [("<=", _floor(numbers))] if complete else [("<", _next(numbers))]
    return [(operator, _floor(numbers))]  # >= and < mean the floor of a partial version


def _hyphen(low: str, high: str) -> list[Bound]:
    upper = _partial(high)
    bounds: list[Bound] = [(">=", _floor(_partial(low)))]
    if upper:
        bounds.append(("<=", _floor(upper)) if len(upper) == 3 else ("<", _next(upper)))
    return bounds


def _comparator_set(text: str) -> list[Bound]:
    words = text.split()
    if len(words) == 3 and words[1] == "-":
        return _hyphen(words[0], words[2])
    bounds: list[Bound] = []
    for word in words:
        bounds += _comparator(word)
    return bounds


def parse_range(text: str) -> list[list[Bound]]:
    """The range as alternatives (`||`), each a list of bounds that must all hold."""
    if len(text) > 256:
        raise RangeError("the version range is longer than 256 characters")
    # npm accepts a space between an operator and its version (`>= 20`).
    normalized = re.sub(r"(<=|>=|<|>|=|~>|~|\^)\s+", r"\1", text.strip())
    alternatives = [part.strip() for part in normalized.split("||")]
    return [_comparator_set(part) for part in alternatives]


def _holds(version: Version, bound: Bound) -> bool:
    operator, limit = bound
    return {
        "=": version == limit,
        "<": version < limit,
        "<=": version <= limit,
        ">": version > limit,
        ">=": version >= limit,
    }[operator]


def satisfies(version: Version, range_text: str) -> bool:
    return any(all(_holds(version, b) for b in bounds) for bounds in parse_range(range_text))


def max_satisfying(versions: Iterable[Version], range_text: str) -> Version | None:
    """The highest of VERSIONS in the range, or None."""
    alternatives = parse_range(range_text)
    matching = [v for v in versions if any(all(_holds(v, b) for b in bounds) for bounds in alternatives)]
    return max(matching, default=None)
