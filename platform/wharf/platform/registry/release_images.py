"""Release images on the registry: pushed from the manager's engine, named by digest for services, and
collected once their release is no longer kept."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import docker.errors

from wharf.platform.registry.api import RegistryApi, RegistryError

Output = Callable[[str], None]


def registry_name(registry: str, image: str) -> str:
    """`wharf/app:v3` as the registry at `registry` (address:port) names it."""
    return image if image.startswith(f"{registry}/") else f"{registry}/{image}"


def push_image(client: Any, registry: str, image: str, on_output: Output | None = None) -> str:
    """Push the local `image` (repository:tag) to `registry`; its reference there, with the digest."""
    target = registry_name(registry, image)
    repository, _, tag = target.rpartition(":")
    client.images.get(image).tag(repository, tag=tag)
    digest = ""
    try:
        for event in client.images.push(repository, tag=tag, stream=True, decode=True):
            if "error" in event:
                raise RegistryError(f"pushing {image} to {registry} failed: {event['error']}")
            digest = str((event.get("aux") or {}).get("Digest") or digest)
    finally:
        # The engine keeps the image under its own name; the registry's name would only hold it longer.
        with contextlib.suppress(docker.errors.APIError):
            client.images.remove(target, noprune=True)
    if not digest:
        raise RegistryError(f"the registry at {registry} gave no digest for {image}")
    if on_output is not None:
        on_output(f"Pushed {target}@{digest}")
    return f"{target}@{digest}"


class ReleaseImages:
    """The registry references of the manager's release images, pushed once per image id."""

    def __init__(self, client: Any, api: RegistryApi) -> None:
        self._client = client
        self._api = api
        self._pushed: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()

    @property
    def registry(self) -> str:
        return self._api.host

    def reference(self, image: str, on_output: Output | None = None, announce: str | None = None) -> str:
        """`image`'s name on the registry with its digest, pushing it first if the registry lacks it;
        ANNOUNCE, with the image's size, is said before such a push (a large one takes a while)."""
        if image.startswith(f"{self.registry}/") or "@" in image:
            return image
        local = self._client.images.get(image)
        key = (image, str(local.id))
        with self._lock:
            known = self._pushed.get(key) or self._already_there(image, local)
            if known is None:
                if announce is not None and on_output is not None:
                    on_output(f"{announce} ({int(local.attrs.get('Size') or 0) / 1e6:.0f} MB)")
                known = push_image(self._client, self.registry, image, on_output)
            self._pushed[key] = known
            return known

    def _already_there(self, image: str, local: Any) -> str | None:
        """The reference of an earlier push (by this or another process) the registry still serves."""
        repository, _, tag = image.rpartition(":")
        pushed = f"{self.registry}/{repository}@"
        for repo_digest in local.attrs.get("RepoDigests") or []:
            if repo_digest.startswith(pushed):
                digest = repo_digest.removeprefix(pushed)
                if self._api.digest(repository, tag) == digest:
                    return f"{self.registry}/{image}@{digest}"
        return None


def release_images_for(client: Any, registry: str, data_dir: Path) -> ReleaseImages:
    """The release images of the installation whose data dir (and so whose authority) is `data_dir`."""
    from wharf.platform.security.authority import root_pem

    return ReleaseImages(client, RegistryApi(registry, root_pem(data_dir).encode()))


def doomed_release_tags(
    api: RegistryApi, repository: str, is_collectable: Callable[[str], bool]
) -> list[str]:
    """The tags of `repository` that `collect_release_images` would delete."""
    return _doomed(api, repository, is_collectable)[0]


def collect_release_images(
    api: RegistryApi, repository: str, is_collectable: Callable[[str], bool]
) -> list[str]:
    """Delete the manifests of `repository`'s tags that `is_collectable`, except a manifest a kept tag
    names too (a delete takes every tag of its manifest); the tags deleted."""
    tags, digests = _doomed(api, repository, is_collectable)
    for digest in digests:
        api.delete_manifest(repository, digest)
    return tags


def _doomed(
    api: RegistryApi, repository: str, is_collectable: Callable[[str], bool]
) -> tuple[list[str], list[str]]:
    digests = {tag: api.digest(repository, tag) for tag in api.tags(repository)}
    kept = {digest for tag, digest in digests.items() if not is_collectable(tag)}
    doomed = {tag: digest for tag, digest in sorted(digests.items()) if digest and digest not in kept}
    return list(doomed), sorted(set(doomed.values()))
