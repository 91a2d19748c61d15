"""The registry's certificate from Wharf's local authority: for the manager's address as an IP address
SAN, its chain ending with the root a joining node pins, kept while current and replaced once due or
once the address changed."""

from __future__ import annotations

import ipaddress
import ssl
from pathlib import Path

import pytest
from cryptography import x509

from wharf.platform.registry import server
from wharf.platform.registry.server import write_registry_files
from wharf.platform.security.authority import root_pem


def _certificates(path: Path) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(path.read_bytes())


def test_the_certificate_names_the_address_and_its_chain_ends_with_wharfs_root(tmp_path: Path) -> None:
    paths = write_registry_files(tmp_path, "10.0.0.5")
    leaf, intermediate, root = _certificates(paths.chain)
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("10.0.0.5")]
    assert root == x509.load_pem_x509_certificate(root_pem(tmp_path).encode())
    leaf.verify_directly_issued_by(intermediate)
    intermediate.verify_directly_issued_by(root)
    assert paths.key.stat().st_mode & 0o077 == 0
    context = ssl.create_default_context(cadata=root_pem(tmp_path))
    context.load_cert_chain(paths.chain, paths.key)  # the key is the certificate's


def test_a_current_certificate_is_kept_and_a_due_or_misaddressed_one_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _certificates(write_registry_files(tmp_path, "10.0.0.5").chain)[0]
    assert _certificates(write_registry_files(tmp_path, "10.0.0.5").chain)[0] == first
    moved = _certificates(write_registry_files(tmp_path, "10.0.0.6").chain)[0]
    assert moved != first
    monkeypatch.setattr(server, "RENEW_BEFORE", server.CERTIFICATE_LIFETIME)
    assert _certificates(write_registry_files(tmp_path, "10.0.0.6").chain)[0] != moved
