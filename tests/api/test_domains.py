"""Custom domains, certificates and maintenance mode, as published in the route table the router serves."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

import redis
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.conftest import LiveServer
from tests.utils.api import new_user_client


def route_for(server: LiveServer, app: str) -> dict[str, object] | None:
    client = redis.Redis.from_url(server.redis_url)
    table = json.loads(client.get("wharf:routes") or b"{}")
    client.close()
    return next((entry for entry in table.get("apps", []) if entry["app"] == app), None)


def self_signed(hostname: str, *, days: int = 30) -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem


def test_new_app_is_routed_at_its_default_hostname(live_server: LiveServer) -> None:
    _, client = new_user_client(live_server)
    name = f"routed-{secrets.token_hex(3)}"
    client.post("/api/apps", json={"name": name}).raise_for_status()
    route = route_for(live_server, name)
    assert route is not None
    assert route["hostnames"] == [f"{name}.localhost"]
    assert route["maintenance"] is False
    client.delete(f"/api/apps/{name}", params={"confirm": name}).raise_for_status()
    assert route_for(live_server, name) is None


def test_custom_domains(live_server: LiveServer) -> None:
    _, client = new_user_client(live_server)
    _, other = new_user_client(live_server)
    name = f"dom-{secrets.token_hex(3)}"
    client.post("/api/apps", json={"name": name})
    host = f"www.{name}.example.com"
    added = client.post(f"/api/apps/{name}/domains", json={"hostname": host.upper()})
    assert added.status_code == 201, added.text
    assert added.json()["hostname"] == host
    listed = client.get(f"/api/apps/{name}/domains").json()
    assert [(d["hostname"], d["kind"]) for d in listed] == [
        (f"{name}.localhost", "default"),
        (host, "custom"),
    ]
    route = route_for(live_server, name)
    assert route is not None and host in route["hostnames"]  # type: ignore[operator]

    other_app = f"dom-{secrets.token_hex(3)}"
    other.post("/api/apps", json={"name": other_app})
    taken = other.post(f"/api/apps/{other_app}/domains", json={"hostname": host})
    assert taken.status_code == 409
    for bad, why in (("not a host", "not a valid hostname"), ("evil.localhost", "Use a domain you own")):
        answer = client.post(f"/api/apps/{name}/domains", json={"hostname": bad})
        assert answer.status_code == 400
        assert why in answer.json()["message"]

    assert client.delete(f"/api/apps/{name}/domains/{host}").status_code == 204
    route = route_for(live_server, name)
    assert route is not None and host not in route["hostnames"]  # type: ignore[operator]
    assert client.delete(f"/api/apps/{name}/domains/{host}").status_code == 404


def test_maintenance_mode_is_published(live_server: LiveServer) -> None:
    _, client = new_user_client(live_server)
    name = f"maint-{secrets.token_hex(3)}"
    client.post("/api/apps", json={"name": name})
    answer = client.patch(f"/api/apps/{name}", json={"maintenance": True})
    assert answer.status_code == 200
    assert answer.json()["maintenance"] is True
    assert route_for(live_server, name)["maintenance"] is True  # type: ignore[index]
    client.patch(f"/api/apps/{name}", json={"maintenance": False})
    assert route_for(live_server, name)["maintenance"] is False  # type: ignore[index]


def test_certificates_are_checked_stored_privately_and_published(live_server: LiveServer) -> None:
    _, client = new_user_client(live_server)
    name = f"tls-{secrets.token_hex(3)}"
    client.post("/api/apps", json={"name": name})
    host = f"secure-{name}.example.com"
    cert, key = self_signed(host)

    unknown = client.post(f"/api/apps/{name}/certs", json={"certificate": cert, "private_key": key})
    assert unknown.status_code == 400
    assert "domains:add" in unknown.json()["message"]

    client.post(f"/api/apps/{name}/domains", json={"hostname": host}).raise_for_status()
    _, other_key = self_signed(host)
    mismatch = client.post(f"/api/apps/{name}/certs", json={"certificate": cert, "private_key": other_key})
    assert mismatch.status_code == 400
    assert "does not belong" in mismatch.json()["message"]
    garbage = client.post(f"/api/apps/{name}/certs", json={"certificate": "hello", "private_key": key})
    assert garbage.status_code == 400

    added = client.post(
        f"/api/apps/{name}/certs", json={"certificate": cert, "private_key": key, "redirect_http": True}
    )
    assert added.status_code == 201, added.text
    assert added.json()["hostnames"] == [host]
    route = route_for(live_server, name)
    assert route is not None
    tls = route["tls"]
    assert isinstance(tls, list) and tls[0]["hostname"] == host and tls[0]["redirect_http"] is True
    key_file = Path(tls[0]["key_path"])
    assert key_file.read_text() == key
    assert key_file.stat().st_mode & 0o777 == 0o600

    cert_id = added.json()["id"]
    assert client.delete(f"/api/apps/{name}/certs/{cert_id}").status_code == 204
    assert not key_file.exists()
    assert route_for(live_server, name)["tls"] == []  # type: ignore[index]


def test_certs_auto_says_why_a_domain_has_no_automatic_certificate(live_server: LiveServer) -> None:
    _, client = new_user_client(live_server)
    _, other = new_user_client(live_server)
    name = f"auto-{secrets.token_hex(3)}"
    client.post("/api/apps", json={"name": name}).raise_for_status()
    host = f"shop.{name}.example.com"
    client.post(f"/api/apps/{name}/domains", json={"hostname": host}).raise_for_status()

    statuses = client.get(f"/api/apps/{name}/certs/auto")

    assert statuses.status_code == 200, statuses.text
    [status] = statuses.json()
    assert (status["hostname"], status["status"]) == (host, "off")
    assert "WHARF_ACME_DIRECTORY" in status["detail"]
    assert other.get(f"/api/apps/{name}/certs/auto").status_code == 404
    client.delete(f"/api/apps/{name}", params={"confirm": name}).raise_for_status()
