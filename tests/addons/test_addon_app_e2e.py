"""An app with a Postgres add-on: the release phase migrates, the web process keeps rows through restarts."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import docker
import httpx
import pytest

from tests.utils.e2e import Developer, Wharf
from wharf.platform.runtime.base import network_name

pytestmark = pytest.mark.e2e

T = TypeVar("T")
CONNECT_TO_DATABASE = """
import socket, sys
for host in sys.argv[1:]:
    try:
        socket.create_connection((host, 5432), 3).close()
    except OSError as error:
        print(host, "unreachable:", type(error).__name__)
    else:
        print(host, "reachable")
"""


def eventually(check: Callable[[], T], done: Callable[[T], bool], *, timeout: float, what: str) -> T:
    """Poll CHECK until DONE says so; transport errors count as not yet."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            answer = check()
            if done(answer):
                return answer
            last = answer
        except httpx.TransportError as error:
            last = error
        time.sleep(0.5)
    raise AssertionError(f"{what} not reached after {timeout} s; last: {last!r}")


def push(developer: Developer, fixture: str, app: str, tmp_path: Path) -> None:
    repo = developer.app_repo(fixture, app, tmp_path)
    pushed = developer.git("push", "wharf", "main", cwd=repo, check=False)
    assert pushed.returncode == 0, pushed.stderr


def post_row(wharf: Wharf, app: str, body: str) -> httpx.Response:
    return httpx.post(
        f"http://127.0.0.1:{wharf.http_port}/rows",
        content=body,
        headers={"Host": f"{app}.localhost"},
        timeout=30,
    )


def deployed_with_database(api: httpx.Client, app: str) -> bool:
    """DATABASE_URL is set and the release that set it is the one serving."""
    if "DATABASE_URL" not in api.get(f"/api/apps/{app}/config").json():
        return False
    newest = api.get(f"/api/apps/{app}/releases").json()[0]
    current = api.get(f"/api/apps/{app}").json()["current_release"]
    return bool(newest["status"] == "succeeded" and newest["version"] == current)


def web_dyno_ids(client: docker.DockerClient, app: str) -> set[str]:
    running = client.containers.list(
        ignore_removed=True, filters={"label": [f"wharf.app={app}", "wharf.process-type=web"]}
    )
    return {container.id for container in running}


def rows(wharf: Wharf, app: str) -> httpx.Response:
    return wharf.app_get(app, "/rows")


@pytest.fixture
def destroy_afterwards(developer: Developer) -> Iterator[list[str]]:
    """Destroy the apps, then wait for the scheduler to remove their dynos before `wharfd up` may stop."""
    apps: list[str] = []
    yield apps
    for app in apps:
        developer.api.delete(f"/api/apps/{app}", params={"confirm": app})
    client = docker.from_env()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and any(
            client.containers.list(ignore_removed=True, all=True, filters={"label": f"wharf.app={app}"})
            for app in apps
        ):
            time.sleep(0.5)
    finally:
        client.close()


def test_rows_written_through_the_router_survive_restarting_dynos_and_the_database(
    wharf: Wharf, developer: Developer, tmp_path: Path, destroy_afterwards: list[str]
) -> None:
    api = developer.api
    app = developer.create_app()
    destroy_afterwards.append(app)
    push(developer, "python_postgres", app, tmp_path)

    created = api.post(f"/api/apps/{app}/addons", json={"kind": "postgres"})
    assert created.status_code == 202, created.text
    addon = created.json()["name"]
    eventually(lambda: deployed_with_database(api, app), bool, timeout=120, what="the attached release")
    eventually(lambda: rows(wharf, app), lambda r: r.status_code == 200, timeout=30, what="GET /rows")
    written = [post_row(wharf, app, body) for body in ("first", "second", "third")]
    before = rows(wharf, app)

    client = docker.from_env()
    try:
        old_dynos = web_dyno_ids(client, app)
        api.post(f"/api/apps/{app}/dynos/restart", json={}).raise_for_status()
        eventually(
            lambda: web_dyno_ids(client, app),
            lambda running: bool(running) and not running & old_dynos,
            timeout=90,
            what="every web dyno replaced",
        )
        (database,) = client.containers.list(ignore_removed=True, filters={"label": f"wharf.addon={addon}"})
        database.restart(timeout=10)
    finally:
        client.close()
    after = eventually(
        lambda: rows(wharf, app), lambda r: r.status_code == 200, timeout=60, what="GET /rows after restarts"
    )

    assert [answer.status_code for answer in written] == [201, 201, 201], [a.text for a in written]
    assert before.text == "first\nsecond\nthird\n"
    assert after.text == "first\nsecond\nthird\n"


def test_a_dyno_of_another_app_cannot_connect_to_the_database(
    wharf: Wharf, developer: Developer, tmp_path: Path, destroy_afterwards: list[str]
) -> None:
    api = developer.api
    owner, other = developer.create_app(), developer.create_app()
    destroy_afterwards.extend([owner, other])
    push(developer, "procfile_only", other, tmp_path)
    created = api.post(f"/api/apps/{owner}/addons", json={"kind": "postgres"})
    assert created.status_code == 202, created.text
    addon = created.json()["name"]
    eventually(
        lambda: api.get(f"/api/apps/{owner}/addons/{addon}").json()["status"],
        lambda status: status != "provisioning",
        timeout=120,
        what="the add-on provisioned",
    )

    client = docker.from_env()
    try:
        (database,) = client.containers.list(ignore_removed=True, filters={"label": f"wharf.addon={addon}"})
        address = database.attrs["NetworkSettings"]["Networks"][network_name(owner)]["IPAddress"]
        command = f"python3 -c '{CONNECT_TO_DATABASE}' {addon} {address}"
        started = api.post(f"/api/apps/{other}/dynos", json={"command": command})
        (container,) = eventually(
            lambda: client.containers.list(
                ignore_removed=True, all=True, filters={"label": [f"wharf.app={other}", "wharf.oneoff=1"]}
            ),
            lambda found: len(found) == 1 and found[0].status == "exited",
            timeout=60,
            what="the one-off dyno finished",
        )
        printed = container.logs().decode(errors="replace")
    finally:
        client.close()

    destroyed = api.delete(f"/api/apps/{owner}", params={"confirm": owner})

    assert started.status_code == 201, started.text
    assert f"{addon} unreachable: gaierror" in printed, printed
    assert f"{address} unreachable:" in printed, printed
    assert destroyed.status_code == 204
    assert not docker_names(f"wharf.addon={addon}"), "the database outlived its app"
    assert not docker_networks(network_name(owner)), "the network outlived its app"


def docker_names(label: str) -> list[str]:
    client = docker.from_env()
    try:
        return [
            c.name for c in client.containers.list(ignore_removed=True, all=True, filters={"label": label})
        ]
    finally:
        client.close()


def docker_networks(name: str) -> list[str]:
    client = docker.from_env()
    try:
        return [n.name for n in client.networks.list(names=[name])]
    finally:
        client.close()
