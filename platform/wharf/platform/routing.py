"""The route table the router serves, published to Redis from two halves.

The API owns each app's routing settings (hostnames, maintenance, certificates); the scheduler owns
each app's healthy web dynos. Each half is kept in its own Redis hash, so either side can republish
the whole table without asking the other, and the router needs nothing but Redis.

Each owner writes its whole half at once (`replace_app_route_settings`, `replace_app_backends`) with
the field WHOLE, which no app name can be. A half without it was lost (Redis emptied or the key
deleted) and holds only the apps changed since: a table made from it is published as incomplete, a
router that serves a complete one keeps it, and the half's owner writes it whole again
(`half_is_whole`).
"""

from __future__ import annotations

import json
import time
from typing import Any

import redis
from redis.lock import Lock

from wharf.router.routes import (
    ROUTES_SERVED_KEY,
    AppRoute,
    Backend,
    RouteTable,
    TlsCertificate,
    publish_routes,
)

APP_ROUTES_KEY = "wharf:app-routes"
BACKENDS_KEY = "wharf:backends"
# Apps whose web type sleeps (wharf.platform.autoscale.sleep writes it): their requests go to the waker.
ASLEEP_KEY = "wharf:asleep"
# Set of node addresses that do not answer (wharf.platform.cluster.reachability writes it): the
# dynos on them are standby backends, sent requests only when none of the app's other dynos can take them.
UNREACHABLE_HOSTS_KEY = "wharf:routes:unreachable-hosts"
GENERATION_KEY = "wharf:routes:generation"
# The field each half's owner writes with its whole half (not an app name: those start with a letter).
WHOLE = "."
PUBLISH_LOCK = "wharf:routes:publish-lock"
# Held by the API from reading an app's routing settings in the database to writing them to its half,
# so a whole half written from an older read never overwrites a newer app's settings.
APP_ROUTES_LOCK = "wharf:app-routes:lock"


def _backends(raw: list[dict[str, Any]], unreachable: frozenset[str]) -> tuple[Backend, ...]:
    """The app's dynos, those on a node that does not answer as standby, unless that is all of them:
    nginx then tries each as usual (a node slow to answer the probe may still serve)."""
    standby = {b["host"] in unreachable for b in raw}
    every = standby == {True}
    return tuple(
        Backend(
            dyno=b["dyno"],
            host=b["host"],
            port=int(b["port"]),
            standby=not every and b["host"] in unreachable,
        )
        for b in raw
    )


def _route_for(
    app: str,
    settings_json: bytes | None,
    backends_json: bytes | None,
    asleep: bool = False,
    unreachable: frozenset[str] = frozenset(),
) -> AppRoute:
    settings: dict[str, Any] = json.loads(settings_json) if settings_json else {}
    backends = json.loads(backends_json) if backends_json else []
    return AppRoute(
        app=app,
        hostnames=tuple(settings.get("hostnames", ())),
        backends=_backends(backends, unreachable),
        maintenance=bool(settings.get("maintenance", False)),
        tls=tuple(TlsCertificate(**cert) for cert in settings.get("tls", ())),
        acme=bool(settings.get("acme", False)),
        asleep=asleep,
    )


def publish_route_table(client: redis.Redis[bytes]) -> RouteTable:
    """Compose both halves into a new generation of the table and publish it."""
    with client.lock(PUBLISH_LOCK, timeout=10, blocking_timeout=10):
        app_settings = {k.decode(): v for k, v in client.hgetall(APP_ROUTES_KEY).items()}
        backends = {k.decode(): v for k, v in client.hgetall(BACKENDS_KEY).items()}
        asleep = {k.decode() for k in client.hkeys(ASLEEP_KEY)}
        unreachable = frozenset(m.decode() for m in client.smembers(UNREACHABLE_HOSTS_KEY))
        complete = app_settings.pop(WHOLE, None) is not None and backends.pop(WHOLE, None) is not None
        apps = tuple(
            _route_for(app, app_settings[app], backends.get(app), app in asleep, unreachable)
            for app in sorted(app_settings)
        )
        table = RouteTable(generation=int(client.incr(GENERATION_KEY)), apps=apps, complete=complete)
        publish_routes(client, table)
    return table


def writing_app_routes(client: redis.Redis[bytes]) -> Lock:
    """The API half's lock: read the settings from the database and write them while holding it."""
    return client.lock(APP_ROUTES_LOCK, timeout=60, blocking_timeout=60)


def half_is_whole(client: redis.Redis[bytes], half: str) -> bool:
    """Whether HALF (APP_ROUTES_KEY or BACKENDS_KEY) is as its owner last wrote it whole."""
    return bool(client.hexists(half, WHOLE))


def _replace_half(client: redis.Redis[bytes], half: str, values: dict[str, str]) -> None:
    whole: dict[str | bytes, bytes | float | int | str] = {WHOLE: "1"}
    whole.update(values)
    with client.pipeline(transaction=True) as pipe:
        pipe.delete(half)
        pipe.hset(half, mapping=whole)
        pipe.execute()
    publish_route_table(client)


def replace_app_backends(client: redis.Redis[bytes], backends: dict[str, list[dict[str, Any]]]) -> None:
    """The scheduler's whole half: every app's healthy web dynos (see `set_app_backends`)."""
    _replace_half(client, BACKENDS_KEY, {app: json.dumps(b, sort_keys=True) for app, b in backends.items()})


def replace_app_route_settings(client: redis.Redis[bytes], settings: dict[str, dict[str, Any]]) -> None:
    """The API's whole half: every app's `route_settings`."""
    _replace_half(client, APP_ROUTES_KEY, {app: json.dumps(v, sort_keys=True) for app, v in settings.items()})


def set_unreachable_hosts(client: redis.Redis[bytes], hosts: set[str]) -> None:
    """The node addresses that do not answer now; their dynos become standby backends at once."""
    with client.pipeline(transaction=True) as pipe:
        pipe.delete(UNREACHABLE_HOSTS_KEY)
        if hosts:
            pipe.sadd(UNREACHABLE_HOSTS_KEY, *sorted(hosts))
        pipe.execute()
    publish_route_table(client)


def set_app_backends(client: redis.Redis[bytes], app_name: str, backends: list[dict[str, Any]]) -> None:
    """The scheduler's half: the app's healthy web dynos, as [{"dyno", "host", "port"}]."""
    client.hset(BACKENDS_KEY, app_name, json.dumps(backends, sort_keys=True))
    publish_route_table(client)


def set_app_route_settings(
    client: redis.Redis[bytes],
    app_name: str,
    *,
    hostnames: list[str],
    maintenance: bool,
    tls: list[dict[str, Any]],
    acme: bool = False,
) -> None:
    """The API's half: the app's hostnames, maintenance mode, certificates and whether the router
    obtains ACME certificates for its custom domains that have none uploaded."""
    value = route_settings(hostnames=hostnames, maintenance=maintenance, tls=tls, acme=acme)
    client.hset(APP_ROUTES_KEY, app_name, json.dumps(value, sort_keys=True))
    publish_route_table(client)


def route_settings(
    *, hostnames: list[str], maintenance: bool, tls: list[dict[str, Any]], acme: bool = False
) -> dict[str, Any]:
    """One app's entry in the API's half."""
    return {"hostnames": hostnames, "maintenance": maintenance, "tls": tls, "acme": acme}


def wait_until_served(client: redis.Redis[bytes], *, timeout: float) -> bool:
    """Wait until the router serves the newest table; True at once where no router has ever run."""
    if client.get(ROUTES_SERVED_KEY) is None:
        return True
    wanted = int(client.get(GENERATION_KEY) or 0)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if int(client.get(ROUTES_SERVED_KEY) or 0) >= wanted:
            return True
        time.sleep(0.05)
    return False


def remove_app_routes(client: redis.Redis[bytes], app_name: str) -> None:
    client.hdel(APP_ROUTES_KEY, app_name)
    client.hdel(BACKENDS_KEY, app_name)
    client.hdel(ASLEEP_KEY, app_name)
    publish_route_table(client)
