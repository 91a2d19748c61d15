"""Find the Debian mirror this host's apt already trusts, so stack images come from the same place."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEFAULT_MIRROR = "http://deb.debian.org/debian"
DEFAULT_SECURITY_MIRROR = "http://deb.debian.org/debian-security"


@dataclass(frozen=True)
class AptSource:
    """One `deb` entry: a repository URI and the suites read from it."""

    uri: str
    suites: tuple[str, ...]


@dataclass(frozen=True)
class Mirrors:
    """The main archive and the security archive a stack is built from."""

    main: str
    security: str


def _parse_deb822(text: str) -> list[AptSource]:
    sources: list[AptSource] = []
    for paragraph in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in paragraph.splitlines():
            if line.startswith("#") or ":" not in line or line[:1].isspace():
                continue
            key, _, value = line.partition(":")
            fields[key.strip().lower()] = value.strip()
        if "deb" not in fields.get("types", "").split() or fields.get("enabled", "yes") == "no":
            continue
        for uri in fields.get("uris", "").split():
            sources.append(AptSource(uri=uri, suites=tuple(fields.get("suites", "").split())))
    return sources


def _parse_one_line(text: str) -> list[AptSource]:
    sources: list[AptSource] = []
    for raw in text.splitlines():
        words = raw.split("#", 1)[0].split()
        if len(words) < 3 or words[0] != "deb":
            continue
        words = [w for w in words[1:] if not w.startswith("[") and not w.endswith("]")]
        if len(words) >= 2:
            sources.append(AptSource(uri=words[0], suites=(words[1],)))
    return sources


def read_apt_sources(etc_apt: Path = Path("/etc/apt")) -> list[AptSource]:
    """All enabled `deb` sources from sources.list and sources.list.d, in apt's reading order."""
    sources: list[AptSource] = []
    one_line = etc_apt / "sources.list"
    if one_line.is_file():
        sources += _parse_one_line(one_line.read_text(errors="replace"))
    parts = etc_apt / "sources.list.d"
    if parts.is_dir():
        for path in sorted(parts.iterdir()):
            if path.suffix == ".sources":
                sources += _parse_deb822(path.read_text(errors="replace"))
            elif path.suffix == ".list":
                sources += _parse_one_line(path.read_text(errors="replace"))
    return sources


def _is_security(source: AptSource) -> bool:
    return any(suite.endswith(("-security", "/updates")) for suite in source.suites)


def host_mirrors(etc_apt: Path = Path("/etc/apt")) -> Mirrors:
    """The host's Debian archive and security archive, falling back to deb.debian.org."""
    sources = read_apt_sources(etc_apt)
    main = next((s.uri for s in sources if not _is_security(s)), DEFAULT_MIRROR)
    security = next((s.uri for s in sources if _is_security(s)), DEFAULT_SECURITY_MIRROR)
    return Mirrors(main=main.rstrip("/"), security=security.rstrip("/"))
