"""Wharf's local certificate authority: made once, keys private, leaves that verify, renewed in time."""

from __future__ import annotations

import datetime
import ssl
import stat
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest
from cryptography import x509

from tests.conftest import LiveServer
from tests.utils.network import REPO_ROOT
from wharf.platform.security import authority
from wharf.platform.security.authority import ensure_authority, issue_leaf, root_pem
from wharf.platform.security.leaves import LocalCertificates

WHARFD = [sys.executable, "-m", "wharf.platform.wharfd"]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_authority_is_made_once_with_private_keys(tmp_path: Path) -> None:
    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(root_pem(tmp_path))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == 1, "concurrent first starts made more than one root"
    paths = ensure_authority(tmp_path)
    assert paths.root_cert.read_text() == results[0]
    for key_file in (paths.root_key, paths.intermediate):
        assert mode(key_file) == 0o600
        assert mode(key_file.parent) == 0o700
    assert mode(paths.folder) == 0o700
    assert "PRIVATE KEY" not in results[0]
    root = x509.load_pem_x509_certificate(results[0].encode())
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_a_leaf_verifies_against_the_root_for_its_name_only(tmp_path: Path) -> None:
    paths = ensure_authority(tmp_path)
    leaf = issue_leaf(paths.intermediate, ["shop.localhost"], datetime.timedelta(days=7))
    assert paths.root_key.read_bytes() not in leaf.chain_pem + leaf.key_pem
    (tmp_path / "leaf.crt").write_bytes(leaf.chain_pem)
    (tmp_path / "leaf.key").write_bytes(leaf.key_pem)
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(tmp_path / "leaf.crt", tmp_path / "leaf.key")
    client = ssl.create_default_context(cafile=str(paths.root_cert))
    assert handshake(server, client, "shop.localhost") is None
    assert "match" in (handshake(server, client, "other.localhost") or "")
    assert "verify failed" in (handshake(server, ssl.create_default_context(), "shop.localhost") or "")


def handshake(server: ssl.SSLContext, client: ssl.SSLContext, hostname: str) -> str | None:
    """None when a client verifying ``hostname`` completes a handshake; the client's error otherwise."""
    client_in, client_out = ssl.MemoryBIO(), ssl.MemoryBIO()
    server_in, server_out = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls_client = client.wrap_bio(client_in, client_out, server_hostname=hostname)
    tls_server = server.wrap_bio(server_in, server_out, server_side=True)
    for _ in range(10):
        for side in (tls_client, tls_server):
            try:
                side.do_handshake()
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLError as error:
                if side is tls_client:
                    return str(error)
        server_in.write(client_out.read())
        client_in.write(server_out.read())
    return None


def test_leaves_are_renewed_once_a_third_of_their_life_is_left(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = ensure_authority(tmp_path)
    leaves = LocalCertificates(intermediate=paths.intermediate, folder=tmp_path / "leaves")
    first = leaves.certificates(["app.localhost"])["app.localhost"]
    serial = x509.load_pem_x509_certificate(Path(first.cert_path).read_bytes()).serial_number
    assert mode(Path(first.key_path)) == 0o600 and mode(Path(first.key_path).parent) == 0o700
    again = LocalCertificates(intermediate=paths.intermediate, folder=tmp_path / "leaves")
    again.certificates(["app.localhost"])
    assert x509.load_pem_x509_certificate(Path(first.cert_path).read_bytes()).serial_number == serial
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=5)
    monkeypatch.setattr(authority, "_now", lambda: later)
    monkeypatch.setattr("wharf.platform.security.leaves._utcnow", lambda: later)
    again.certificates(["app.localhost"])
    renewed = x509.load_pem_x509_certificate(Path(first.cert_path).read_bytes())
    assert renewed.serial_number != serial
    assert renewed.not_valid_after_utc > later + datetime.timedelta(days=6)


def test_an_intermediate_near_its_end_is_resigned_by_the_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = ensure_authority(tmp_path)
    before = paths.intermediate.read_bytes()
    root = paths.root_cert.read_bytes()
    ensure_authority(tmp_path)
    assert paths.intermediate.read_bytes() == before
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=300)
    monkeypatch.setattr(authority, "_now", lambda: later)
    ensure_authority(tmp_path)
    assert paths.intermediate.read_bytes() != before
    assert paths.root_cert.read_bytes() == root


def test_wharfd_ca_prints_the_root_the_api_serves(live_server: LiveServer) -> None:
    printed = subprocess.run(
        [*WHARFD, "ca"], env=live_server.env, capture_output=True, text=True, check=True, cwd=REPO_ROOT
    ).stdout
    assert printed.startswith("-----BEGIN CERTIFICATE-----") and "PRIVATE" not in printed
    served = httpx.get(f"{live_server.url}/api/ca.pem")
    assert served.status_code == 200
    assert served.text == printed
    assert x509.load_pem_x509_certificate(printed.encode()).subject.rfc4514_string().find("Wharf") >= 0
