"""Engines trust the registry through Wharf's root, in /etc/docker/certs.d/HOST:PORT/ca.crt
(wharf.platform.registry.ca_file). A joining node fetches the root from the registry itself (the chain
it serves ends with it) and keeps it only if its SHA-256 fingerprint is the one `wharfd nodes:add`
printed."""

from __future__ import annotations

import hashlib
import socket
import ssl

from cryptography import x509
from cryptography.hazmat.primitives import serialization


def root_fingerprint(root_pem: bytes) -> str:
    """`sha256:` and the hex digest of the root's DER, as `wharfd nodes:add` prints it."""
    der = x509.load_pem_x509_certificate(root_pem).public_bytes(serialization.Encoding.DER)
    return "sha256:" + hashlib.sha256(der).hexdigest()


class UntrustedRegistry(Exception):
    """The registry did not present the root the fingerprint names, or not a certificate it signed."""


def _served_chain(address: str, port: int, timeout: float) -> list[bytes]:
    """The certificates the server sends, unverified, each DER (the public method is Python 3.13's)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection((address, port), timeout=timeout) as raw, context.wrap_socket(raw) as tls:
        reader = getattr(tls, "get_unverified_chain", None) or tls._sslobj.get_unverified_chain  # type: ignore[attr-defined]
        return [_der(cert) for cert in reader() or []]


def _der(cert: object) -> bytes:
    if isinstance(cert, bytes):
        return cert
    dumped = cert.public_bytes(ssl._ssl.ENCODING_DER)  # type: ignore[attr-defined]
    return bytes(dumped)


def fetch_pinned_root(registry: str, fingerprint: str, *, timeout: float = 10.0) -> bytes:
    """The root certificate (PEM) `registry` serves at the end of its chain, once its fingerprint
    matches and the registry's own certificate verifies against it for that address."""
    address, _, port = registry.rpartition(":")
    chain = _served_chain(address, int(port), timeout)
    wanted = fingerprint.lower().removeprefix("sha256:")
    roots = [der for der in chain if hashlib.sha256(der).hexdigest() == wanted]
    if not roots:
        raise UntrustedRegistry(f"the registry at {registry} serves no root with fingerprint {fingerprint}")
    root_pem = ssl.DER_cert_to_PEM_cert(roots[0]).encode()
    verifying = ssl.create_default_context(cadata=root_pem.decode())
    try:
        with (
            socket.create_connection((address, int(port)), timeout=timeout) as raw,
            verifying.wrap_socket(raw, server_hostname=address),
        ):
            pass
    except ssl.SSLError as error:
        raise UntrustedRegistry(f"the registry at {registry} is not signed by that root: {error}") from None
    return root_pem
