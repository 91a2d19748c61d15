"""The app.json of a release, read from its image: healthchecks, first formation and postdeploy.

The format is Dokku's and Heroku's (see wharf.platform.app_manifest); the build has already refused
an app.json that does not parse, so a failure here only logs and leaves the release without one.
"""

from __future__ import annotations

import functools
import io
import logging
import tarfile

import docker
import docker.errors

from wharf.platform.app_manifest import EMPTY, MAX_APP_JSON_BYTES, AppJsonError, AppManifest, parse_app_json

log = logging.getLogger(__name__)
APP_JSON = "/app/app.json"


def _read_file(client: docker.DockerClient, image: str, path: str) -> bytes | None:
    """A regular file of the image, at most MAX_APP_JSON_BYTES; None when absent or not a file."""
    container = client.containers.create(image, command=["true"], network_disabled=True)
    try:
        stream, stat = container.get_archive(path)
        if int(stat.get("size", 0)) > MAX_APP_JSON_BYTES:
            return None
        data = bytearray()
        for chunk in stream:
            data += chunk
            if len(data) > MAX_APP_JSON_BYTES + 64 * 1024:
                return None
        with tarfile.open(fileobj=io.BytesIO(bytes(data))) as archive:
            member = archive.next()
            if member is None or not member.isreg() or member.size > MAX_APP_JSON_BYTES:
                return None
            handle = archive.extractfile(member)
            return handle.read() if handle is not None else None
    except docker.errors.NotFound:
        return None
    finally:
        container.remove(force=True)


def no_manifest(image: str) -> AppManifest:
    """Fake releases carry no app.json: no checks, formation or postdeploy."""
    return EMPTY


@functools.lru_cache(maxsize=256)
def docker_manifest(image: str) -> AppManifest:
    """Images are immutable per release, so the answer is cached by image name."""
    client = docker.from_env()
    try:
        return parse_app_json(_read_file(client, image, APP_JSON))
    except (docker.errors.APIError, AppJsonError) as error:
        log.warning("cannot read %s from %s: %s", APP_JSON, image, error)
        return EMPTY
    finally:
        client.close()
