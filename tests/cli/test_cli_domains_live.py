"""`wharf domains`, `certs`, `maintenance` and `builds` against a live server."""

from __future__ import annotations

import json

from tests.api.test_domains import self_signed
from tests.cli.test_cli_live import User, alice, make_user, unique  # noqa: F401  (fixtures)


def test_domains_add_list_remove(alice: tuple[User, str]) -> None:  # noqa: F811
    user, _ = alice
    app = unique("doms")
    user.ok("apps:create", app)
    host = f"www.{app}.example.com"
    user.ok("domains:add", host, "-a", app)
    listed = user.ok("domains", "-a", app)
    assert f"{app}.localhost" in listed and host in listed
    as_json = json.loads(user.ok("domains", "-a", app, "--json"))
    assert {d["hostname"] for d in as_json} == {f"{app}.localhost", host}
    refused = user.wharf("domains:add", "bad host", "-a", app)
    assert refused.returncode != 0
    assert "not a valid hostname" in refused.stderr
    user.ok("domains:remove", host, "-a", app)
    assert host not in user.ok("domains", "-a", app)


def test_maintenance_on_and_off(alice: tuple[User, str]) -> None:  # noqa: F811
    user, _ = alice
    app = unique("maint")
    user.ok("apps:create", app)
    assert user.ok("maintenance", "-a", app).strip() == "off"
    user.ok("maintenance:on", "-a", app)
    assert user.ok("maintenance", "-a", app).strip() == "on"
    user.ok("maintenance:off", "-a", app)
    assert user.ok("maintenance", "-a", app).strip() == "off"


def test_certs_add_and_remove(alice: tuple[User, str]) -> None:  # noqa: F811
    user, _ = alice
    app = unique("certs")
    user.ok("apps:create", app)
    host = f"{app}.example.org"
    user.ok("domains:add", host, "-a", app)
    cert, key = self_signed(host)
    (user.cwd / "cert.pem").write_text(cert)
    (user.cwd / "key.pem").write_text(key)
    added = user.ok("certs:add", "cert.pem", "key.pem", "--redirect-http", "-a", app)
    assert f"Serving {host} over HTTPS" in added
    certs = json.loads(user.ok("certs", "-a", app, "--json"))
    assert certs[0]["hostnames"] == [host] and certs[0]["redirect_http"] is True
    user.ok("certs:remove", str(certs[0]["id"]), "-a", app)
    assert "has no certificates" in user.ok("certs", "-a", app)


def test_builds_and_buildpacks_before_any_push(alice: tuple[User, str]) -> None:  # noqa: F811
    user, _ = alice
    app = unique("builds")
    user.ok("apps:create", app)
    assert "has no builds" in user.ok("builds", "-a", app)
    assert json.loads(user.ok("builds", "-a", app, "--json")) == []
    missing = user.wharf("builds:output", "-a", app)
    assert missing.returncode != 0 and "no builds yet" in missing.stderr
    user.ok("buildpacks:set", "python", "-a", app)
    assert "python" in user.ok("buildpacks", "-a", app)
    assert user.ok("config:get", "BUILDPACK_URL", "-a", app).strip() == "python"
    user.ok("buildpacks:clear", "-a", app)
    assert "detects one" in user.ok("buildpacks", "-a", app)


def test_certs_auto_disable_and_enable(alice: tuple[User, str]) -> None:  # noqa: F811
    user, _ = alice
    app = unique("acm")
    user.ok("apps:create", app)
    host = f"{app}.example.org"
    user.ok("domains:add", host, "-a", app)
    assert json.loads(user.ok("apps:info", "-a", app, "--json"))["acm"] is True
    user.ok("certs:auto:disable", "-a", app)
    assert json.loads(user.ok("apps:info", "-a", app, "--json"))["acm"] is False
    [status] = json.loads(user.ok("certs:auto", "-a", app, "--json"))
    assert status["status"] == "off"
    assert "off" in user.ok("certs:auto", "-a", app)
    user.ok("certs:auto:enable", "-a", app)
    assert json.loads(user.ok("apps:info", "-a", app, "--json"))["acm"] is True
    cert, key = self_signed(host)
    (user.cwd / "cert.pem").write_text(cert)
    (user.cwd / "key.pem").write_text(key)
    user.ok("certs:add", "cert.pem", "key.pem", "-a", app)
    [served] = json.loads(user.ok("certs", "-a", app, "--json"))
    assert served["type"] == "uploaded"
    assert "uploaded" in user.ok("certs", "-a", app)
