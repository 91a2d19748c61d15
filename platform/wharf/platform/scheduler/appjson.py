"""The web health check path an app declares in its app.json, read from the release image.

The format is dokku's: `{"healthchecks": {"web": [{"type": "startup", "path": "/health"}]}}`;
a plain `{"healthcheck": {"path": "/health"}}` is accepted too. Without one, the check is a TCP connect.
"""

from __future__ import annotations

import functools
import io
import json
import logging
import tarfile
from typing import Any

import docker
import docker.errors

log = logging.getLogger(__name__)
APP_JSON = "/app/app.json"
APP_JSON_MAX_BYTES = 256 * 1024


def health_path_from(document: Any) -> str | None:
    if not isinstance(document, dict):
        return None
    checks = (
        (document.get("healthchecks") or {}).get("web")
        if isinstance(document.get("healthchecks"), dict)
        else None
    )
    candidates = list(checks) if isinstance(checks, list) else []
    if isinstance(document.get("healthcheck"), dict):
        candidates.append(document["healthcheck"])
    for check in candidates:
        path = check.get("path") if isinstance(check, dict) else None
        if isinstance(path, str) and path.startswith("/"):
            return path
    return None


def _read_file(client: docker.DockerClient, image: str, path: str) -> bytes | None:
    """A regular file of the image (a link or anything over APP_JSON_MAX_BYTES is not read)."""
    container = client.containers.create(image, command=["true"], network_disabled=True)
    try:
        stream, stat = container.get_archive(path)
        if int(stat.get("size", 0)) > APP_JSON_MAX_BYTES:
            return None
        data = bytearray()
        for chunk in stream:
            data += chunk
            if len(data) > APP_JSON_MAX_BYTES + 64 * 1024:
                return None
        with tarfile.open(fileobj=io.BytesIO(bytes(data))) as archive:
            member = archive.next()
            if member is None or not member.isreg() or member.size > APP_JSON_MAX_BYTES:
                return None
            handle = archive.extractfile(member)
            return handle.read() if handle is not None else None
    except docker.errors.NotFound:
        return None
    finally:
        container.remove(force=True)


@functools.lru_cache(maxsize=256)
def docker_health_path(image: str) -> str | None:
    """Images are immutable per release, so the answer is cached by image name."""
    client = docker.from_env()
    try:
        raw = _read_file(client, image, APP_JSON)
        return health_path_from(json.loads(raw)) if raw else None
    except (docker.errors.APIError, ValueError) as error:
        log.warning("cannot read %s from %s: %s", APP_JSON, image, error)
        return None
    finally:
        client.close()
