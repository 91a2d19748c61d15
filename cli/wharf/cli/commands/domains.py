"""Domains, certificates and maintenance mode: domains, domains:add, domains:remove, certs, certs:auto,
certs:auto:enable, certs:auto:disable, certs:add, certs:remove, maintenance, maintenance:on and
maintenance:off."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import typer

from wharf.cli import gitrepo, output, session
from wharf.cli.registry import add_command
from wharf.cli.resolve import AppOption, JsonOption, RemoteOption, resolve_app


def _path(app: str, *parts: str) -> str:
    return "/".join([f"/apps/{quote(app, safe='')}", *(quote(p, safe="") for p in parts)])


def list_domains(
    app: AppOption = None, remote: RemoteOption = gitrepo.DEFAULT_REMOTE, json: JsonOption = False
) -> None:
    """List the hostnames an app answers on."""
    name = resolve_app(app, remote)
    with session.authenticated_client() as client:
        domains: list[dict[str, Any]] = client.request("GET", _path(name, "domains"))
    if json:
        output.print_json(domains)
        return
    output.header(f"{name} Wharf Domain")
    output.line(next(d["hostname"] for d in domains if d["kind"] == "default"))
    custom = [d for d in domains if d["kind"] == "custom"]
    if custom:
        output.line()
        output.header(f"{name} Custom Domains")
        output.table([["Domain Name"], *([d["hostname"]] for d in custom)])


def add_domain(
    hostname: Annotated[str, typer.Argument(help="The hostname, such as www.example.com.")],
    app: AppOption = None,
    remote: RemoteOption = gitrepo.DEFAULT_REMOTE,
) -> None:
    """Add a custom domain; point its DNS at this Wharf host."""
    name = resolve_app(app, remote)
    with (
        session.authenticated_client() as client,
        output.action(f"Adding {hostname} to {output.app_label(name)}"),
    ):
        client.request("POST", _path(name, "domains"), {"hostname": hostname})


def remove_domain(
    hostname: Annotated[str, typer.Argument(help="The hostname to remove.")],
    app: AppOption = None,
    remote: RemoteOption = gitrepo.DEFAULT_REMOTE,
) -> None:
    """Remove a custom domain."""
    name = resolve_app(app, remote)
    label = f"Removing {hostname} from {output.app_label(name)}"
    with session.authenticated_client() as client, output.action(label):
        client.request("DELETE", _path(name, "domains", hostname))


def list_certs(
    app: AppOption = None, remote: RemoteOption = gitrepo.DEFAULT_REMOTE, json: JsonOption = False
) -> None:
    """List an app's TLS certificates."""
    name = resolve_app(app, remote)
    with session.authenticated_client() as client:
        certs: list[dict[str, Any]] = client.request("GET", _path(name, "certs"))
    if json:
        output.print_json(certs)
        return
    if not certs:
        output.line(f"{output.app_label(name)} has no certificates.")
        return
    rows = [["ID", "Type", "Domains", "Expires", "Redirects HTTP"]]
    rows += [
        [str(c["id"] or "-"), c["type"], ", ".join(c["hostnames"]), c["expires_at"][:10],
         "yes" if c["redirect_http"] else "no"]
        for c in certs
    ]  # fmt: skip
    output.table(rows)


def certs_auto(
    app: AppOption = None, remote: RemoteOption = gitrepo.DEFAULT_REMOTE, json: JsonOption = False
) -> None:
    """Show each custom domain's automatic (ACME) certificate: issued, pending, failing and why."""
    name = resolve_app(app, remote)
    with session.authenticated_client() as client:
        statuses: list[dict[str, Any]] = client.request("GET", _path(name, "certs", "auto"))
    if json:
        output.print_json(statuses)
        return
    if not statuses:
        output.line(f"{output.app_label(name)} has no custom domains.")
        return
    rows = [["Domain", "Status", "Updated", "Detail"]]
    rows += [[s["hostname"], s["status"], (s["updated_at"] or "")[:19], s["detail"]] for s in statuses]
    output.table(rows)


def _switch(
    app: str | None, remote: str, what: str, enabled: bool, request: tuple[str, tuple[str, ...], object]
) -> None:
    """Turn one of the app's settings on or off with a single (method, path, body) request."""
    name = resolve_app(app, remote)
    verb = "Enabling" if enabled else "Disabling"
    method, parts, body = request
    with (
        session.authenticated_client() as client,
        output.action(f"{verb} {what} for {output.app_label(name)}"),
    ):
        client.request(method, _path(name, *parts), body)


def _set_acm(app: str | None, remote: str, enabled: bool) -> None:
    _switch(app, remote, "automatic certificates", enabled, ("POST" if enabled else "DELETE", ("acm",), None))


def certs_auto_enable(app: AppOption = None, remote: RemoteOption = gitrepo.DEFAULT_REMOTE) -> None:
    """Obtain certificates for the app's custom domains automatically (ACME), as Heroku's ACM."""
    _set_acm(app, remote, True)


def certs_auto_disable(app: AppOption = None, remote: RemoteOption = gitrepo.DEFAULT_REMOTE) -> None:
    """Stop obtaining automatic certificates; uploaded ones are still served."""
    _set_acm(app, remote, False)


def add_cert(
    certificate: Annotated[Path, typer.Argument(help="PEM certificate file (with its chain).", exists=True)],
    private_key: Annotated[Path, typer.Argument(help="PEM private key file, unencrypted.", exists=True)],
    redirect_http: Annotated[bool, typer.Option("--redirect-http", help="Redirect HTTP to HTTPS.")] = False,
    app: AppOption = None,
    remote: RemoteOption = gitrepo.DEFAULT_REMOTE,
) -> None:
    """Serve a certificate for the app's custom domains it names, over HTTPS with HTTP/2."""
    name = resolve_app(app, remote)
    body = {
        "certificate": certificate.read_text(),
        "private_key": private_key.read_text(),
        "redirect_http": redirect_http,
    }
    with (
        session.authenticated_client() as client,
        output.action(f"Adding a certificate to {output.app_label(name)}"),
    ):
        added: dict[str, Any] = client.request("POST", _path(name, "certs"), body)
    output.line(f"Serving {', '.join(added['hostnames'])} over HTTPS (certificate {added['id']}).")


def remove_cert(
    certificate_id: Annotated[int, typer.Argument(help="Certificate ID, from `wharf certs`.")],
    app: AppOption = None,
    remote: RemoteOption = gitrepo.DEFAULT_REMOTE,
) -> None:
    """Stop serving a certificate."""
    name = resolve_app(app, remote)
    label = f"Removing certificate {certificate_id} from {output.app_label(name)}"
    with session.authenticated_client() as client, output.action(label):
        client.request("DELETE", _path(name, "certs", str(certificate_id)))


def maintenance(app: AppOption = None, remote: RemoteOption = gitrepo.DEFAULT_REMOTE) -> None:
    """Show whether the app is in maintenance mode."""
    name = resolve_app(app, remote)
    with session.authenticated_client() as client:
        output.line("on" if client.app(name)["maintenance"] else "off")


def _set_maintenance(app: str | None, remote: str, enabled: bool) -> None:
    _switch(app, remote, "maintenance mode", enabled, ("PATCH", (), {"maintenance": enabled}))


def maintenance_on(app: AppOption = None, remote: RemoteOption = gitrepo.DEFAULT_REMOTE) -> None:
    """Serve a maintenance page (H80) instead of the app."""
    _set_maintenance(app, remote, True)


def maintenance_off(app: AppOption = None, remote: RemoteOption = gitrepo.DEFAULT_REMOTE) -> None:
    """Serve the app again."""
    _set_maintenance(app, remote, False)


def register(app: typer.Typer) -> None:
    add_command(app, "domains", list_domains)
    add_command(app, "domains:add", add_domain)
    add_command(app, "domains:remove", remove_domain)
    add_command(app, "certs", list_certs)
    add_command(app, "certs:auto", certs_auto)
    add_command(app, "certs:auto:enable", certs_auto_enable)
    add_command(app, "certs:auto:disable", certs_auto_disable)
    add_command(app, "certs:add", add_cert)
    add_command(app, "certs:remove", remove_cert)
    add_command(app, "maintenance", maintenance)
    add_command(app, "maintenance:on", maintenance_on)
    add_command(app, "maintenance:off", maintenance_off)
