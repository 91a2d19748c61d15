"""Turn a route table into a complete nginx configuration.

The whole config is rendered from scratch each time, so a candidate can be checked with ``nginx -t``
on its own and swapped in atomically; nothing is patched in place.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import re
import secrets
import ssl
from dataclasses import dataclass, field
from pathlib import Path

import jinja2

from wharf.router.pages import error_page
from wharf.router.routes import HOSTNAME, AppRoute, RouteTable, TlsCertificate

logger = logging.getLogger(__name__)

# Parent of every router's public dir (RouterPaths.public_dir): on /run, a tmpfs, as temp files belong.
PUBLIC_ROOT = Path("/run/wharf-router")
ERROR_PAGES = ("not-found", "no-web-dynos", "application-error", "timeout", "maintenance")
API_UPSTREAM = re.compile(r"[A-Za-z0-9.-]{1,253}:[0-9]{1,5}|\[[0-9A-Fa-f:.]+\]:[0-9]{1,5}")
INSTANCE = re.compile(r"[0-9a-f]{8,32}")
# nginx's upstream timings under a second ("0.000" .. "0.999") and their log form ("0ms" .. "999ms").
SUBSECOND_TIMES = tuple((f"0.{ms:03d}", f"{ms}ms") for ms in range(1000))


@dataclass(frozen=True)
class RouterSettings:
    """Operator settings of the data plane; the defaults follow Heroku's router."""

    http_port: int = 80
    https_port: int = 443
    domain: str = "localhost"
    worker_processes: int | str = "auto"
    request_timeout: int = 30
    websocket_idle_timeout: int = 55
    client_idle_timeout: int = 90
    upstream_idle_timeout: int = 1
    upstream_keepalive: int = 64
    client_max_body_size: str = "100m"
    shutdown_timeout: int = 120
    log_flush_ms: int = 250
    listen_ipv6: bool = False
    # The API, dashboard and git endpoint, proxied over HTTPS at this hostname (HTTP redirects there).
    api_hostname: str | None = None
    api_upstream: str | None = None
    # The waker (host:port), which answers the requests of apps whose web type sleeps.
    waker_upstream: str | None = None
    wake_timeout: int = 30


@dataclass(frozen=True)
class RouterPaths:
    """Where nginx keeps its runtime files, all under the router's state directory."""

    state_dir: Path

    @property
    def config(self) -> Path:
        return self.state_dir / "nginx.conf"

    @property
    def candidate(self) -> Path:
        return self.state_dir / "nginx.conf.next"

    @property
    def pid(self) -> Path:
        return self.state_dir / "nginx.pid"

    @property
    def logs(self) -> Path:
        return self.state_dir / "logs"

    @property
    def access_log(self) -> Path:
        return self.logs / "access.log"

    @property
    def error_log(self) -> Path:
        return self.logs / "error.log"

    @property
    def public_dir(self) -> Path:
        """Where nginx's unprivileged workers read and write: temp files and ACME challenges.

        The state dir sits in the data dir, which is private to root (0700), so the workers could not
        enter it: a request body or an answer too large for nginx's memory buffers would fail, and no
        ACME challenge could be served. This dir is outside it, named after the state dir so that routers
        of different state dirs never share it, and holds nothing secret.
        """
        digest = hashlib.sha256(str(self.state_dir.absolute()).encode()).hexdigest()[:16]
        return PUBLIC_ROOT / digest

    @property
    def tmp(self) -> Path:
        return self.public_dir / "tmp"

    @property
    def acme_webroot(self) -> Path:
        """Webroot for ACME http-01 challenges (``certbot --webroot -w`` this directory works too)."""
        return self.public_dir / "acme"

    @property
    def acme_challenges(self) -> Path:
        return self.acme_webroot / ".well-known" / "acme-challenge"

    @property
    def acme_certificates(self) -> Path:
        """Certificates the ACME issuer obtained: ``<hostname>.crt`` and ``.key`` (0700, not served)."""
        return self.state_dir / "acme-certs"

    @property
    def local_certificates(self) -> Path:
        """Leaves from the local authority for the default hostnames and the API's."""
        return self.state_dir / "local-certs"

    def create(self) -> None:
        """Make the directories nginx writes to (workers write temp files there)."""
        for directory in (self.state_dir, self.logs):
            directory.mkdir(parents=True, exist_ok=True)
            directory.chmod(0o755)
        public = (PUBLIC_ROOT, self.public_dir, self.tmp, self.acme_webroot, self.acme_challenges.parent)
        for directory in (*public, self.acme_challenges):
            directory.mkdir(parents=True, exist_ok=True)
            directory.chmod(0o755)


@dataclass
class ServerBlock:
    """One nginx ``server``: an app reached under some hostnames, maybe with a certificate."""

    route: AppRoute
    hostnames: list[str] = field(default_factory=list)
    cert: TlsCertificate | None = None

    @property
    def cert_version(self) -> str:
        """Changes when certificate files are replaced in place, so that nginx reloads them."""
        return "" if self.cert is None else certificate_files_version(self.cert)


def certificate_files_version(cert: TlsCertificate) -> str:
    """The modification times of a certificate's files: a renewal in place rewrites them under the same
    names."""
    try:
        return "-".join(str(os.stat(p).st_mtime_ns) for p in (cert.cert_path, cert.key_path))
    except OSError:
        return "missing"


def nginx_string(text: str) -> str:
    """Quote ``text`` as one nginx config token (variables such as ``$wharf_request_id`` still expand)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def certificate_usable(cert: TlsCertificate) -> bool:
    """Whether nginx will accept this pair; a broken one must not block every other app's routes."""
    try:
        version = tuple(os.stat(p).st_mtime_ns for p in (cert.cert_path, cert.key_path))
    except OSError as error:
        logger.warning("skipping certificate for %s: %s", cert.hostname, error)
        return False
    problem = _pair_error(cert.cert_path, cert.key_path, version)
    if problem is not None:
        logger.warning("skipping certificate for %s: %s", cert.hostname, problem)
    return problem is None


@functools.lru_cache(maxsize=4096)
def _pair_error(cert_path: str, key_path: str, version: tuple[int, ...]) -> str | None:
    """Loading a pair costs a key parse: once per version of the files, not at every sync of every app."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(cert_path, key_path)
    except (OSError, ssl.SSLError) as error:
        return str(error)
    return None


def _load_pages() -> dict[str, str]:
    return {name: error_page(name) for name in ERROR_PAGES}


def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("wharf.router", "templates"),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,  # noqa: S701 - this renders an nginx config, not HTML
    )
    environment.filters["nginx_string"] = nginx_string
    return environment


def _app_hostnames(table: RouteTable, domain: str, reserved: str | None = None) -> dict[str, list[str]]:
    """Hostnames per app: ``<app>.<domain>`` first, then custom domains nobody else already has.

    ``reserved`` (the API hostname) belongs to no app.
    """
    claimed = {f"{route.app}.{domain}": route.app for route in table.apps}
    if reserved is not None:
        claimed[reserved] = "the Wharf API"
    hostnames = {route.app: [f"{route.app}.{domain}"] for route in table.apps}
    for route in table.apps:
        for hostname in route.hostnames:
            owner = claimed.setdefault(hostname, route.app)
            if owner != route.app:
                logger.warning("hostname %s of %s already routes to %s", hostname, route.app, owner)
            elif hostname not in hostnames[route.app]:
                hostnames[route.app].append(hostname)
    return hostnames


def plan_servers(
    table: RouteTable, domain: str, reserved: str | None = None
) -> tuple[list[ServerBlock], list[ServerBlock], list[ServerBlock]]:
    """Split each app's hostnames into plain HTTP, HTTP-to-HTTPS redirect and HTTPS server blocks."""
    http_servers: list[ServerBlock] = []
    redirect_servers: list[ServerBlock] = []
    tls_servers: list[ServerBlock] = []
    hostnames_by_app = _app_hostnames(table, domain, reserved)
    for route in table.apps:
        hostnames = [h for h in hostnames_by_app[route.app] if h != reserved]
        certs = {c.hostname: c for c in route.tls if c.hostname in hostnames and certificate_usable(c)}
        redirected = [h for h in hostnames if h in certs and certs[h].redirect_http]
        served = [h for h in hostnames if h not in redirected]
        http_servers.append(ServerBlock(route=route, hostnames=served))
        if redirected:
            redirect_servers.append(ServerBlock(route=route, hostnames=redirected))
        by_pair: dict[tuple[str, str], ServerBlock] = {}
        for hostname, cert in certs.items():
            block = by_pair.setdefault((cert.cert_path, cert.key_path), ServerBlock(route=route, cert=cert))
            block.hostnames.append(hostname)
        tls_servers.extend(by_pair.values())
    return [s for s in http_servers if s.hostnames], redirect_servers, tls_servers


def _api_server(settings: RouterSettings, cert: TlsCertificate | None) -> ServerBlock | None:
    """The API's HTTPS server, when an API hostname, its address and a usable certificate are given."""
    if settings.api_hostname is None or settings.api_upstream is None or cert is None:
        return None
    if not HOSTNAME.fullmatch(settings.api_hostname) or not API_UPSTREAM.fullmatch(settings.api_upstream):
        invalid = f"{settings.api_hostname!r} at {settings.api_upstream!r}"
        raise ValueError(f"the API hostname and address {invalid} cannot go into an nginx config")
    if not certificate_usable(cert):
        return None
    route = AppRoute(app="wharf-api")
    return ServerBlock(route=route, hostnames=[settings.api_hostname], cert=cert)


def _dyno_names(table: RouteTable) -> dict[str, str]:
    """Backend address -> dyno name for the log's ``dyno=``; an address listed twice keeps its first name."""
    names: dict[str, str] = {}
    for route in table.apps:
        for backend in route.backends:
            names.setdefault(backend.address, backend.dyno)
    return names


def new_router_instance() -> str:
    """A random name for one router's lifetime, the first part of the request ids it generates."""
    return secrets.token_hex(6)


def render_nginx_config(
    table: RouteTable,
    settings: RouterSettings,
    paths: RouterPaths,
    *,
    instance: str,
    api_cert: TlsCertificate | None = None,
) -> str:
    """The full nginx.conf serving ``table`` for the router called ``instance``.

    Generated request ids are ``<instance><generation in hex>-<worker pid>-<connection>-<request>``:
    unique without a random number per request (OpenSSL's generator was the largest single cost of a
    routed request), and valid by Heroku's rule for incoming ids, so a dyno that passes one on to
    another app keeps the trail.
    """
    if not INSTANCE.fullmatch(instance):
        raise ValueError(f"router instance {instance!r} must be 8-32 lowercase hex digits")
    if not HOSTNAME.fullmatch(settings.domain):
        raise ValueError(f"WHARF_DOMAIN {settings.domain!r} is not a valid hostname")
    if settings.waker_upstream is not None and not API_UPSTREAM.fullmatch(settings.waker_upstream):
        raise ValueError(f"the waker's address {settings.waker_upstream!r} cannot go into an nginx config")
    api_server = _api_server(settings, api_cert)
    reserved = settings.api_hostname if api_server is not None else None
    http_servers, redirect_servers, tls_servers = plan_servers(table, settings.domain, reserved)
    template = _environment().get_template("nginx.conf.j2")
    return template.render(
        generation=table.generation,
        request_id_prefix=f"{instance}{table.generation:x}",
        settings=settings,
        paths=paths,
        pages=_load_pages(),
        upstreams=[route for route in table.apps if route.backends and not route.maintenance],
        http_servers=http_servers,
        redirect_servers=redirect_servers,
        tls_servers=tls_servers,
        api_server=api_server,
        https_enabled=bool(tls_servers) or api_server is not None,
        dynos=_dyno_names(table),
        subsecond_times=SUBSECOND_TIMES,
        https_port_suffix="" if settings.https_port == 443 else f":{settings.https_port}",
    )
