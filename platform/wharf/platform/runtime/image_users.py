"""Which uid an image's USER names: a dyno never runs as uid 0, whatever the name is spelt."""

from __future__ import annotations

import io
import tarfile
from functools import lru_cache

import docker
import docker.errors

ROOT_USERS = frozenset({"", "root", "0"})
# /etc/passwd of an image is read through the Docker API (never from the host's disk), up to this size.
MAX_PASSWD_BYTES = 1024 * 1024


def numeric_uid(user: str) -> int | None:
    """The uid of a `uid[:gid]` spec, or None when it names a user."""
    name = user.split(":", 1)[0].strip()
    return int(name) if name.isdigit() else None


def passwd_uids(text: str) -> dict[str, int]:
    uids: dict[str, int] = {}
    for line in text.splitlines():
        fields = line.split(":")
        if len(fields) >= 3 and fields[2].isdigit():
            uids.setdefault(fields[0], int(fields[2]))
    return uids


def read_image_passwd(client: docker.DockerClient, image: str) -> str:
    """The image's /etc/passwd, from a created (never started) container; empty when it has none."""
    container = client.containers.create(image, command=["true"], network_disabled=True)
    try:
        stream, stat = container.get_archive("/etc/passwd")
        if int(stat.get("size", 0)) > MAX_PASSWD_BYTES:
            return ""
        data = bytearray()
        for chunk in stream:
            data.extend(chunk)
            if len(data) > MAX_PASSWD_BYTES + 64 * 1024:
                return ""
        with tarfile.open(fileobj=io.BytesIO(bytes(data))) as archive:
            member = archive.next()
            if member is None or not member.isfile():
                return ""
            handle = archive.extractfile(member)
            return "" if handle is None else handle.read(MAX_PASSWD_BYTES).decode("utf-8", "replace")
    except docker.errors.NotFound:
        return ""
    finally:
        container.remove(force=True)


class ImageUsers:
    """Resolves users per image id, remembered (an image's passwd never changes)."""

    def __init__(self, client: docker.DockerClient) -> None:
        self._client = client
        self._uids = lru_cache(maxsize=256)(self._read)

    def _read(self, image_id: str) -> dict[str, int]:
        return passwd_uids(read_image_passwd(self._client, image_id))

    def uid(self, image_id: str, user: str) -> int | None:
        """USER's uid in the image; None when the image does not know the name (Docker then refuses)."""
        number = numeric_uid(user)
        if number is not None:
            return number
        return self._uids(image_id).get(user.split(":", 1)[0].strip())

    def dyno_user(self, image: str, user: str | None, default: str) -> str:
        """The spec's user, else the image's own non-root user, else `default`; never uid 0.

        A user name is looked up in the image's /etc/passwd: `USER toor` with uid 0 is root too.
        Raises docker.errors.ImageNotFound when the image is not on this engine.
        """
        found = self._client.images.get(image)
        if user is not None:
            if self.is_root(found.id, user):
                raise ValueError("dynos never run as root")
            return user
        image_user = str((found.attrs.get("Config") or {}).get("User") or "")
        # No USER, root by any name, or a name the image does not know: the default non-root user.
        # (No USER and `root` need no look-up in the image's passwd.)
        name = image_user.split(":")[0].strip()
        if name in ROOT_USERS or self.uid(found.id, image_user) in (None, 0):
            return default
        return image_user

    def is_root(self, image_id: str, user: str) -> bool:
        return user.split(":")[0].strip() in ROOT_USERS or self.uid(image_id, user) == 0
