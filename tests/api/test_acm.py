"""Automatic certificates per app (Heroku's ACM): on by default, switched by the app's admins, honoured by
the route table the router reads, and shown in `certs` and `certs/auto`."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.test_domains import route_for, self_signed
from tests.conftest import LiveServer, running_api
from tests.utils.api import new_user_client


@pytest.fixture(scope="module")
def acme_server(
    database_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """An API on a host whose operator set an ACME directory (on SQLite and on PostgreSQL)."""
    data_dir = tmp_path_factory.mktemp("wharf-acm")
    with running_api(
        database_url, redis_url, data_dir, WHARF_ACME_DIRECTORY="https://acme.invalid/dir"
    ) as server:
        yield server


def _write_served(folder: Path, hostname: str) -> None:
    """A certificate as the router's issuer leaves it on disk."""
    cert, key = self_signed(hostname)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{hostname}.crt").write_text(cert)
    (folder / f"{hostname}.key").write_text(key)


def test_acm_is_on_by_default_and_only_admins_switch_it(acme_server: LiveServer) -> None:
    _, owner = new_user_client(acme_server)
    name = f"acm-{secrets.token_hex(3)}"
    owner.post("/api/apps", json={"name": name}).raise_for_status()
    host = f"shop.{name}.example.com"
    owner.post(f"/api/apps/{name}/domains", json={"hostname": host}).raise_for_status()
    assert owner.get(f"/api/apps/{name}").json()["acm"] is True
    assert route_for(acme_server, name)["acme"] is True  # type: ignore[index]
    [status] = owner.get(f"/api/apps/{name}/certs/auto").json()
    assert status["status"] == "pending"

    for role in ("viewer", "member"):
        email, client = new_user_client(acme_server)
        added = owner.post(f"/api/apps/{name}/collaborators", json={"email": email, "role": role})
        added.raise_for_status()
        refused = client.delete(f"/api/apps/{name}/acm")
        assert refused.status_code == 403, refused.text
        assert refused.json()["id"] == "role_required" and "admin" in refused.json()["message"]
    assert owner.get(f"/api/apps/{name}").json()["acm"] is True

    disabled = owner.delete(f"/api/apps/{name}/acm")
    assert disabled.status_code == 200, disabled.text
    assert disabled.json()["acm"] is False
    assert owner.get(f"/api/apps/{name}").json()["acm"] is False
    assert route_for(acme_server, name)["acme"] is False  # type: ignore[index]
    [status] = owner.get(f"/api/apps/{name}/certs/auto").json()
    assert status["status"] == "off" and "certs:auto:enable" in status["detail"]

    enabled = owner.post(f"/api/apps/{name}/acm")
    assert enabled.status_code == 200 and enabled.json()["acm"] is True
    assert route_for(acme_server, name)["acme"] is True  # type: ignore[index]
    activity = [e["message"] for e in owner.get(f"/api/apps/{name}/activity").json()]
    assert any("Automatic certificates disabled" in m for m in activity)


def test_certs_lists_uploaded_acm_and_local_certificates_by_type(acme_server: LiveServer) -> None:
    _, owner = new_user_client(acme_server)
    name = f"types-{secrets.token_hex(3)}"
    owner.post("/api/apps", json={"name": name}).raise_for_status()
    uploaded_host, automatic_host = f"up.{name}.example.com", f"auto.{name}.example.com"
    for host in (uploaded_host, automatic_host):
        owner.post(f"/api/apps/{name}/domains", json={"hostname": host}).raise_for_status()
    cert, key = self_signed(uploaded_host)
    owner.post(f"/api/apps/{name}/certs", json={"certificate": cert, "private_key": key}).raise_for_status()
    router_dir = acme_server.data_dir / "router"
    _write_served(router_dir / "acme-certs", automatic_host)
    _write_served(router_dir / "local-certs", f"{name}.localhost")

    listed = owner.get(f"/api/apps/{name}/certs").json()

    by_type = {c["type"]: c for c in listed}
    assert sorted(by_type) == ["acm", "local", "uploaded"]
    assert by_type["uploaded"]["hostnames"] == [uploaded_host] and isinstance(by_type["uploaded"]["id"], int)
    assert by_type["acm"]["hostnames"] == [automatic_host] and by_type["acm"]["id"] is None
    assert by_type["local"]["hostnames"] == [f"{name}.localhost"]

    owner.delete(f"/api/apps/{name}/acm").raise_for_status()
    assert sorted(c["type"] for c in owner.get(f"/api/apps/{name}/certs").json()) == ["local", "uploaded"]
