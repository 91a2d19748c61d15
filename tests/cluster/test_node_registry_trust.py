"""What a node agent writes to keep its node trusting the registry: Wharf's root, in
certs.d/HOST:PORT/ca.crt, mode 0644, again once it went or changed and never otherwise, and never
anything that is not certificates alone (a key above all)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from wharf.platform.cluster.registry_trust import NodeTrustConfig, keep_registry_trusted, trust_registry_once
from wharf.platform.registry.ca_file import NotACertificate, ca_path
from wharf.platform.security.authority import ensure_authority, root_pem

REGISTRY = "10.0.0.5:5443"


def _config(tmp_path: Path, content: bytes) -> NodeTrustConfig:
    ca_file = tmp_path / "config" / "wharf-registry-ca.crt"
    ca_file.parent.mkdir(exist_ok=True)
    ca_file.write_bytes(content)
    return NodeTrustConfig(registry=REGISTRY, ca_file=ca_file, certs_dir=tmp_path / "etc-docker" / "certs.d")


def test_the_root_is_written_once_then_again_only_when_it_went_or_changed(tmp_path: Path) -> None:
    root = root_pem(tmp_path / "data").encode()
    config = _config(tmp_path, root)
    written = ca_path(REGISTRY, config.certs_dir)
    assert trust_registry_once(config) is True
    assert written.read_bytes() == root
    assert written.stat().st_mode & 0o777 == 0o644
    before = written.stat().st_ino
    assert trust_registry_once(config) is False, "an unchanged file is left alone"
    assert written.stat().st_ino == before
    written.unlink()
    assert trust_registry_once(config) is True
    written.write_bytes(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    written.chmod(0o600)
    assert trust_registry_once(config) is True
    assert written.read_bytes() == root and written.stat().st_mode & 0o777 == 0o644
    assert [path.name for path in written.parent.iterdir()] == ["ca.crt"], "no partial file left"


def test_a_key_is_never_written_as_the_ca(tmp_path: Path) -> None:
    authority = ensure_authority(tmp_path / "data")
    root_and_key = authority.root_cert.read_bytes() + authority.root_key.read_bytes()
    assert b"PRIVATE KEY" in root_and_key
    config = _config(tmp_path, root_and_key)
    with pytest.raises(NotACertificate):
        trust_registry_once(config)
    assert not ca_path(REGISTRY, config.certs_dir).exists()


def test_a_registry_that_is_not_one_path_component_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a registry"):
        ca_path("../../etc:5443", tmp_path)


def test_the_agents_loop_writes_then_stops_when_told(tmp_path: Path) -> None:
    root = root_pem(tmp_path / "data").encode()
    config = _config(tmp_path, root)
    stop = threading.Event()
    loop = threading.Thread(target=keep_registry_trusted, args=(config, stop), kwargs={"interval": 0.05})
    loop.start()
    try:
        written = ca_path(REGISTRY, config.certs_dir)
        for _ in range(200):
            if written.exists():
                break
            stop.wait(0.05)
        assert written.read_bytes() == root
    finally:
        stop.set()
        loop.join(timeout=5)
    assert not loop.is_alive()
