"""The route table: what the control plane publishes and the router serves.

The control plane writes the whole table as JSON under ``ROUTES_KEY`` and announces each update on
``ROUTES_CHANNEL``. Everything in the table ends up inside an nginx config, so the loader checks every
name, address and path against strict patterns and drops an entry it cannot trust instead of
letting one bad app stop every other app's routes from being applied.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Protocol

ROUTES_KEY = "wharf:routes"
# The generation nginx serves, written by the router once it took effect: a deploy waits for it.
ROUTES_SERVED_KEY = "wharf:routes:served"
# Hash: hostname -> JSON {"app", "state", "detail", "updated_at"} of its automatic (ACME) certificate.
ACME_STATUS_KEY = "wharf:acme:status"
ROUTES_CHANNEL = "wharf:routes:changed"

logger = logging.getLogger(__name__)

APP_NAME = re.compile(r"[a-z][a-z0-9-]{0,29}")
HOSTNAME = re.compile(r"(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
BACKEND_HOST = re.compile(r"([A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]+\])")
DYNO_NAME = re.compile(r"[a-z][a-z0-9_-]*\.[0-9]{1,6}")
SAFE_PATH = re.compile(r"/[A-Za-z0-9._/@+-]+")


class InvalidRoute(ValueError):
    """An entry of the route table that cannot be served safely."""


@dataclass(frozen=True)
class Backend:
    """One web dyno that takes traffic; a standby one (its node does not answer) only when none other can."""

    dyno: str
    host: str
    port: int
    standby: bool = False

    @property
    def address(self) -> str:
        """The ``host:port`` form nginx logs in ``$upstream_addr``."""
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class TlsCertificate:
    """A certificate the app's owner added for one of its hostnames."""

    hostname: str
    cert_path: str
    key_path: str
    redirect_http: bool = False


@dataclass(frozen=True)
class AppRoute:
    """Everything the router needs to serve one app."""

    app: str
    hostnames: tuple[str, ...] = ()
    backends: tuple[Backend, ...] = ()
    maintenance: bool = False
    tls: tuple[TlsCertificate, ...] = ()
    acme: bool = False
    # The web type sleeps (autoscaled to zero when idle): with no backends, requests go to the waker.
    asleep: bool = False


@dataclass(frozen=True)
class RouteTable:
    """A generation of routes; the generation only grows, so a router can tell stale data apart."""

    generation: int = 0
    apps: tuple[AppRoute, ...] = field(default_factory=tuple)
    # Made from both halves as their owners last wrote them whole; False: a half was lost from Redis
    # (or never written whole), so apps may be missing.
    complete: bool = False

    def to_json(self) -> str:
        """The wire form stored under ``ROUTES_KEY``."""
        return json.dumps(asdict(self), sort_keys=True)


class RedisLike(Protocol):
    """The few Redis commands the route table uses (redis.Redis satisfies it)."""

    def get(self, name: str) -> Any: ...

    def set(self, name: str, value: str) -> Any: ...

    def publish(self, channel: str, message: str) -> Any: ...


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise InvalidRoute(message)


def _parse_backend(raw: dict[str, Any]) -> Backend:
    dyno, host, port = raw.get("dyno"), raw.get("host"), raw.get("port")
    _require(isinstance(dyno, str) and bool(DYNO_NAME.fullmatch(dyno)), f"bad dyno name {dyno!r}")
    _require(isinstance(host, str) and bool(BACKEND_HOST.fullmatch(host)), f"bad backend host {host!r}")
    _require(isinstance(port, int) and not isinstance(port, bool) and 0 < port < 65536, f"bad port {port!r}")
    standby = raw.get("standby", False)
    _require(isinstance(standby, bool), f"bad standby flag {standby!r}")
    assert isinstance(dyno, str) and isinstance(host, str) and isinstance(port, int)
    return Backend(dyno=dyno, host=host, port=port, standby=bool(standby))


def _parse_hostname(raw: Any) -> str:
    _require(isinstance(raw, str), f"bad hostname {raw!r}")
    hostname = str(raw).lower().rstrip(".")
    _require(len(hostname) <= 253 and bool(HOSTNAME.fullmatch(hostname)), f"bad hostname {raw!r}")
    return hostname


def _parse_tls(raw: dict[str, Any]) -> TlsCertificate:
    hostname = _parse_hostname(raw.get("hostname"))
    cert_path, key_path = raw.get("cert_path"), raw.get("key_path")
    for path in (cert_path, key_path):
        _require(isinstance(path, str) and bool(SAFE_PATH.fullmatch(path)), f"bad certificate path {path!r}")
    assert isinstance(cert_path, str) and isinstance(key_path, str)
    return TlsCertificate(
        hostname=hostname,
        cert_path=cert_path,
        key_path=key_path,
        redirect_http=bool(raw.get("redirect_http", False)),
    )


def parse_app_route(raw: dict[str, Any]) -> AppRoute:
    """One app's entry; raises InvalidRoute when any part of it is unsafe to put in a config."""
    _require(isinstance(raw, dict), "an app entry must be an object")
    app = raw.get("app")
    _require(isinstance(app, str) and bool(APP_NAME.fullmatch(app)), f"bad app name {app!r}")
    assert isinstance(app, str)
    hostnames = tuple(dict.fromkeys(_parse_hostname(h) for h in raw.get("hostnames") or []))
    backends = tuple(_parse_backend(b) for b in raw.get("backends") or [])
    tls = tuple(_parse_tls(t) for t in raw.get("tls") or [])
    return AppRoute(
        app=app,
        hostnames=hostnames,
        backends=backends,
        maintenance=bool(raw.get("maintenance", False)),
        tls=tls,
        acme=bool(raw.get("acme", False)),
        asleep=bool(raw.get("asleep", False)),
    )


def parse_route_table(text: str | bytes | None) -> RouteTable:
    """Parse the stored JSON; a missing table is an empty one, an invalid app is left out and logged."""
    if not text:
        return RouteTable()
    document = json.loads(text)
    if not isinstance(document, dict):
        raise InvalidRoute("the route table must be a JSON object")
    apps: list[AppRoute] = []
    claimed: set[str] = set()
    for raw in document.get("apps") or []:
        try:
            route = parse_app_route(raw)
        except (InvalidRoute, TypeError, AttributeError) as error:
            logger.warning("route table: skipping app entry: %s", error)
            continue
        taken = claimed.intersection(route.hostnames)
        if taken:
            logger.warning("route table: %s claims hostnames already routed: %s", route.app, sorted(taken))
            route = replace(
                route,
                hostnames=tuple(h for h in route.hostnames if h not in taken),
                tls=tuple(t for t in route.tls if t.hostname not in taken),
            )
        claimed.update(route.hostnames)
        apps.append(route)
    generation = document.get("generation", 0)
    return RouteTable(
        generation=generation if isinstance(generation, int) else 0,
        apps=tuple(apps),
        complete=document.get("complete") is True,
    )


def load_routes(redis: RedisLike) -> RouteTable:
    """The table currently published; an empty table when nothing was published yet."""
    return parse_route_table(redis.get(ROUTES_KEY))


def published_routes(redis: RedisLike) -> RouteTable | None:
    """The table currently published; None when there is none (never published, or Redis lost it)."""
    raw = redis.get(ROUTES_KEY)
    return None if raw is None else parse_route_table(raw)


def publish_routes(redis: RedisLike, table: RouteTable) -> None:
    """Store ``table`` and tell every router to apply it (the control plane calls this)."""
    redis.set(ROUTES_KEY, table.to_json())
    redis.publish(ROUTES_CHANNEL, str(table.generation))
