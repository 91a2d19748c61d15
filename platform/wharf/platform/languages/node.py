"""Resolve the Node.js an app asks for against the index and install its official Linux x64 build once
per host, into RUNTIMES/node/<version> (npm in lib/node_modules/npm, as the official archives have it)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from wharf.platform.languages.downloads import DownloadFailed, check_digest, download
from wharf.platform.languages.locks import runtime_lock
from wharf.platform.languages.node_index import NodeRelease, load_index, npm_registry_of
from wharf.platform.languages.semver import RangeError, Version, format_version, max_satisfying, parse_version
from wharf.platform.languages.version_files import Request

OutputCallback = Callable[[str], None]
COMPLETE_MARKER = ".wharf-runtime.json"
_ANY = {"node", "latest", "current", "*", "x"}
_LTS = {"lts", "lts/*", "lts/latest"}


class VersionUnavailable(Exception):
    """The app asks for a version that cannot be had; the message names the ones on offer."""


@dataclass(frozen=True)
class NodeSettings:
    runtimes_dir: Path
    index_source: str


def _offer(releases: list[NodeRelease]) -> str:
    newest: dict[int, Version] = {}
    for release in releases:
        newest[release.version[0]] = max(newest.get(release.version[0], release.version), release.version)
    lines = sorted(newest.values(), reverse=True)[:12]
    return ", ".join(format_version(v) for v in lines)


def choose_release(request: Request, releases: list[NodeRelease]) -> NodeRelease:
    """The newest release REQUEST allows, or VersionUnavailable naming the newest of each line on offer."""
    text = request.text.strip().lower()
    versions = [r.version for r in releases]
    try:
        if text in _ANY:
            chosen = max(versions, default=None)
        elif text in _LTS:
            chosen = max((v for v in versions if v[0] % 2 == 0 and v[0] < max(versions)[0]), default=None)
        elif text.startswith("lts/"):
            raise VersionUnavailable(
                f"Node.js '{request.text}' (from {request.origin}) names an LTS line by its code name; "
                "write its major version instead (for example 22)."
            )
        else:
            chosen = max_satisfying(versions, text)
    except RangeError as error:
        raise VersionUnavailable(
            f"Cannot read the Node.js version '{request.text}' in {request.origin}: {error}. "
            "Write a version or range such as 22.x, ^20.11 or >=20 <23."
        ) from error
    if chosen is None:
        raise VersionUnavailable(
            f"Node.js {request.text} (from {request.origin}) is not available.\n"
            f"Versions on offer (the newest of each line): {_offer(releases)}\n"
            f"Change {request.origin} to one of them and push again."
        )
    return next(r for r in releases if r.version == chosen)


def installed_path(runtimes_dir: Path, version: Version) -> Path | None:
    target = runtimes_dir / "node" / format_version(version)
    return target if (target / COMPLETE_MARKER).is_file() else None


def resolve(request: Request, settings: NodeSettings, client: httpx.Client) -> NodeRelease | Version:
    """An exact version already installed needs no index; anything else is looked up."""
    exact = parse_version(request.text)
    if exact and installed_path(settings.runtimes_dir, exact):
        return exact
    index_dir = settings.runtimes_dir / "node" / "index"
    index_dir.mkdir(parents=True, exist_ok=True)
    name = hashlib.sha256(settings.index_source.encode()).hexdigest()[:16] + ".json"
    return choose_release(request, load_index(client, settings.index_source, index_dir / name))


def _extract(archive: Path, into: Path) -> None:
    """Unpack ARCHIVE's single top folder into INTO (GNU tar refuses members that climb out)."""
    into.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            "tar",
            "--extract",
            f"--file={archive}",
            f"--directory={into}",
            "--strip-components=1",
            "--no-same-owner",
            "--delay-directory-restore",
        ],
        check=True,
    )


def _sha256_from_shasums(client: httpx.Client, tarball: str) -> str:
    base, _, name = tarball.rpartition("/")
    response = client.get(f"{base}/SHASUMS256.txt")
    response.raise_for_status()
    for line in response.text.splitlines():
        digest, _, listed = line.partition("  ")
        if listed.strip() == name:
            return f"sha256:{digest}"
    raise DownloadFailed(f"SHASUMS256.txt does not list {name}")


def _npm_for(client: httpx.Client, registry: str, node: Version, cache_dir: Path) -> tuple[str, str, str]:
    """(version, tarball, integrity) of the newest npm whose engines.node allows NODE."""
    document = load_npm_index(client, registry, cache_dir)
    best: tuple[Version, str, str] | None = None
    for text, entry in document.items():
        version = parse_version(text)
        engines = entry.get("engines")
        wanted = engines.get("node") if isinstance(engines, dict) else None
        dist = entry.get("dist")
        if not version or not isinstance(wanted, str) or not isinstance(dist, dict) or "tarball" not in dist:
            continue
        try:
            allowed = max_satisfying([node], wanted) is not None
        except RangeError:
            continue
        if allowed and (best is None or version > best[0]):
            best = (version, str(dist["tarball"]), str(dist.get("integrity", "")))
    if best is None:
        raise DownloadFailed(f"no npm release supports Node.js {format_version(node)}")
    return format_version(best[0]), best[1], best[2]


def load_npm_index(client: httpx.Client, registry: str, cache_dir: Path) -> dict[str, dict[str, object]]:
    cache_file = cache_dir / "npm.json"
    if not cache_file.is_file() or time.time() - cache_file.stat().st_mtime > 3600:
        response = client.get(f"{registry}/npm", headers={"Accept": "application/vnd.npm.install-v1+json"})
        response.raise_for_status()
        cache_file.write_bytes(response.content)
    versions = json.loads(cache_file.read_bytes()).get("versions", {})
    return versions if isinstance(versions, dict) else {}


def _add_npm(
    client: httpx.Client,
    settings: NodeSettings,
    node: Version,
    root: Path,
    scratch: Path,
    on_output: OutputCallback,
) -> str:
    version, tarball, integrity = _npm_for(
        client, npm_registry_of(settings.index_source), node, settings.runtimes_dir / "node" / "index"
    )
    archive = scratch / "npm.tgz"
    download(client, tarball, archive, label=f"npm {version}", on_output=on_output)
    check_digest(archive, integrity)
    _extract(archive, root / "lib" / "node_modules" / "npm")
    for tool in ("npm", "npx"):
        link = root / "bin" / tool
        link.unlink(missing_ok=True)
        link.symlink_to(f"../lib/node_modules/npm/bin/{tool}-cli.js")
    return version


def install(
    release: NodeRelease, settings: NodeSettings, client: httpx.Client, on_output: OutputCallback
) -> Path:
    """Install RELEASE into the runtime cache unless it is there; returns its folder."""
    label = f"Node.js {format_version(release.version)}"
    with runtime_lock(settings.runtimes_dir, "node", format_version(release.version)):
        done = installed_path(settings.runtimes_dir, release.version)
        if done:
            on_output(f"-----> Installing {label} (cached)")
            return done
        on_output(f"-----> Installing {label}")
        started = time.monotonic()
        target = settings.runtimes_dir / "node" / format_version(release.version)
        with tempfile.TemporaryDirectory(dir=settings.runtimes_dir / "node", prefix=".install-") as tmp:
            scratch = Path(tmp)
            archive = scratch / "node.tgz"
            download(client, release.tarball, archive, label=label, on_output=on_output)
            check_digest(archive, release.integrity or _sha256_from_shasums(client, release.tarball))
            root = scratch / "root"
            _extract(archive, root)
            shutil.rmtree(root / "share", ignore_errors=True)
            npm = (
                None
                if release.bundles_npm
                else _add_npm(client, settings, release.version, root, scratch, on_output)
            )
            (root / COMPLETE_MARKER).write_text(
                json.dumps({"node": format_version(release.version), "npm": npm, "source": release.tarball})
            )
            os.chmod(root, 0o755)  # noqa: S103  (builds of every app read it; none write it)
            shutil.rmtree(target, ignore_errors=True)
            os.replace(root, target)
        on_output(f"       Installed {label} in {time.monotonic() - started:.1f} s")
        return target
