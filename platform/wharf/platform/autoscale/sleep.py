"""Which apps sleep: their web type autoscales with min 0 and the autoscaler put it to 0 dynos.

The database says what may sleep (an autoscale setting with min 0) and what runs (the formation); this
Redis hash tells the router which apps are asleep, so it hands their requests to the waker instead of
answering "no web dynos". The autoscaler marks an app asleep; the waker clears the mark once the woken
dyno is routed.
"""

from __future__ import annotations

import json
from datetime import datetime

import redis
from sqlalchemy.orm import Session

from wharf.platform.actions.autoscale import SLEEPING_TYPE
from wharf.platform.actions.dynos import DynoStatus
from wharf.platform.actions.formation import list_formation
from wharf.platform.models import App
from wharf.platform.records.releases import latest_release
from wharf.platform.routing import ASLEEP_KEY, publish_route_table


def mark_asleep(client: redis.Redis[bytes], app_name: str, since: datetime) -> None:
    """Record that APP_NAME's web type sleeps and republish the routes; a no-op when already marked."""
    if client.hsetnx(ASLEEP_KEY, app_name, json.dumps({"since": since.isoformat()})):
        publish_route_table(client)


def clear_asleep(client: redis.Redis[bytes], app_name: str) -> None:
    if client.hdel(ASLEEP_KEY, app_name):
        publish_route_table(client)


def asleep_since(client: redis.Redis[bytes], app_name: str) -> datetime | None:
    raw = client.hget(ASLEEP_KEY, app_name)
    if raw is None:
        return None
    return datetime.fromisoformat(json.loads(raw)["since"])


def asleep_apps(client: redis.Redis[bytes]) -> set[str]:
    return {name.decode() for name in client.hkeys(ASLEEP_KEY)}


def sleeping_statuses(
    *, session: Session, client: redis.Redis[bytes], app: App, dynos: list[DynoStatus]
) -> list[DynoStatus]:
    """`wharf ps`'s line for a sleeping web type: state "sleeping" since it slept, under the type's name."""
    since = asleep_since(client, app.name)
    if since is None or any(d.type == SLEEPING_TYPE and d.state == "up" for d in dynos):
        return []
    formation = {row.process_type: row for row in list_formation(session=session, app=app)}
    row = formation.get(SLEEPING_TYPE)
    release = latest_release(session=session, app=app)
    if row is None or row.quantity != 0 or release is None:
        return []
    command = str((release.process_types or {}).get(SLEEPING_TYPE, ""))
    status = DynoStatus(
        name=SLEEPING_TYPE,
        type=SLEEPING_TYPE,
        state="sleeping",
        since=since,
        release=release.version,
        command=command,
        size=row.size,
        restarts=0,
        exit_code=None,
        oneoff=False,
    )
    return [status]
