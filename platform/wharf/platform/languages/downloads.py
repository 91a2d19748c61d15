"""Downloads into the runtime cache: streamed to a file with progress lines, then checked against a digest."""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Callable
from pathlib import Path

import httpx

OutputCallback = Callable[[str], None]
DOWNLOAD_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
MAX_DOWNLOAD_BYTES = 512 * 1024 * 1024


class DownloadFailed(RuntimeError):
    """The file could not be fetched or did not match its digest; the message says which."""


def http_client() -> httpx.Client:
    return httpx.Client(timeout=DOWNLOAD_TIMEOUT, follow_redirects=True)


def check_digest(path: Path, integrity: str) -> None:
    """INTEGRITY is npm's `sha512-<base64>` or `sha256:<hex>`; raise DownloadFailed on a mismatch."""
    algorithm, _, expected = integrity.replace(":", "-", 1).partition("-")
    if algorithm not in ("sha512", "sha256", "sha1") or not expected:
        raise DownloadFailed(f"unknown digest '{integrity}'")
    digest = hashlib.new(algorithm)
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    actual = (
        digest.hexdigest()
        if len(expected) == digest.digest_size * 2
        else base64.b64encode(digest.digest()).decode()
    )
    if actual != expected:
        raise DownloadFailed(f"{path.name} does not match its published {algorithm} digest")


def download(client: httpx.Client, url: str, target: Path, *, label: str, on_output: OutputCallback) -> None:
    """Fetch URL to TARGET, printing how far it got about every 25%."""
    started = time.monotonic()
    try:
        with client.stream("GET", url) as response, target.open("wb") as handle:
            response.raise_for_status()
            total = int(response.headers.get("content-length") or 0)
            done, shown = 0, 0
            for chunk in response.iter_bytes(1024 * 1024):
                done += len(chunk)
                if done > MAX_DOWNLOAD_BYTES:
                    raise DownloadFailed(f"{label} is larger than {MAX_DOWNLOAD_BYTES >> 20} MB")
                handle.write(chunk)
                if total and done * 4 // total > shown:
                    shown = done * 4 // total
                    on_output(f"       Downloading {label}: {done / 1e6:.0f} of {total / 1e6:.0f} MB")
    except httpx.HTTPError as error:
        raise DownloadFailed(f"downloading {url} failed: {error}") from error
    on_output(f"       Downloaded {label} ({done / 1e6:.0f} MB) in {time.monotonic() - started:.1f} s")
