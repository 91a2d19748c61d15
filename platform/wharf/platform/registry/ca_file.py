"""Where an engine looks for a registry's CA, and writing it there: Docker reads
/etc/docker/certs.d/HOST:PORT/ca.crt on each pull and push, so a file there is all an engine needs to
trust the registry (no daemon restart, no insecure-registries).

Imports nothing outside the standard library: the node agent's image (wharf.platform.cluster.
registry_trust) writes the file with it too.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

DOCKER_CERTS_DIR = Path("/etc/docker/certs.d")
CA_MODE = 0o644
# `address:port` as image names spell a registry: one path component, never `..` or a slash.
_REGISTRY_HOST = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]*:[0-9]{1,5}")
_CERTIFICATE = re.compile(
    rb"\A\s*(-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+-----END CERTIFICATE-----\s*)+\Z"
)


class NotACertificate(ValueError):
    """What was to be written as a CA is not PEM certificates alone (a key never goes there)."""


def ca_path(registry: str, certs_dir: Path = DOCKER_CERTS_DIR) -> Path:
    if not _REGISTRY_HOST.fullmatch(registry):
        raise ValueError(f"not a registry address:port: {registry!r}")
    return certs_dir / registry / "ca.crt"


def install_ca(registry: str, root_pem: bytes, certs_dir: Path = DOCKER_CERTS_DIR) -> Path:
    """Make `registry`'s CA file on this host hold `root_pem`; the path. Written whole and renamed into
    place (an engine pulling meanwhile reads the old file or the new one), mode 0644, and only when
    its content differs."""
    write_ca_if_changed(registry, root_pem, certs_dir)
    return ca_path(registry, certs_dir)


def write_ca_if_changed(registry: str, root_pem: bytes, certs_dir: Path = DOCKER_CERTS_DIR) -> bool:
    """As install_ca; whether the file was written."""
    if not _CERTIFICATE.match(root_pem):
        raise NotACertificate(f"the CA for {registry} is not PEM certificates alone")
    path = ca_path(registry, certs_dir)
    try:
        if path.read_bytes() == root_pem and (path.stat().st_mode & 0o777) == CA_MODE:
            return False
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
    descriptor, partial = tempfile.mkstemp(prefix=".ca.crt.", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as out:
            out.write(root_pem)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(partial, CA_MODE)
        os.replace(partial, path)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
    return True
