"""dockerd restarted under load fails no request: with Docker's live-restore the dynos keep running while
the engine is away, and the scheduler, the log shipper and the router carry on with the same dynos, none
duplicated or lost.

It runs on a private Docker host (tests/utils/test_host.py: a second dockerd in a network namespace of
its own), so the host's engine and other tests' containers are never touched:
`pytest -m dockerd_restart tests/chaos`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import pytest

from tests.utils.chaos import Load
from tests.utils.e2e import Developer, new_developer
from tests.utils.test_host import DockerTestHost, docker_test_host
from tests.utils.wharfd_up import WharfdUp, push_new_app, wait_until_served
from wharf.platform.settings import Settings

pytestmark = [pytest.mark.e2e, pytest.mark.dockerd_restart]


def web_dynos(client: docker.DockerClient, app: str) -> dict[str, tuple[str, str]]:
    """dyno name -> (container id, state) of the app's web containers."""
    found: dict[str, tuple[str, str]] = {}
    for container in client.containers.list(
        all=True, ignore_removed=True, filters={"label": f"wharf.app={app}"}
    ):
        if container.labels.get("wharf.process-type") == "web":
            name = f"web.{container.labels.get('wharf.dyno')}"
            assert name not in found, f"{name} runs twice"
            found[name] = (container.id, container.status)
    return found


def wait_for(check: Callable[[], bool], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.5)


def log_lines(developer: Developer, app: str) -> list[dict[str, str]]:
    with developer.api as api:
        body = api.get(f"/api/apps/{app}/logs", params={"num": 1500}).text
    return [json.loads(line[5:]) for line in body.splitlines() if line.startswith("data:")]


@pytest.fixture
def served_on_test_host(tmp_path: Path) -> Iterator[tuple[DockerTestHost, WharfdUp, Developer, str]]:
    settings = Settings()
    with docker_test_host((settings.wharf_run_image, settings.wharf_build_image)) as host:
        data_dir = tmp_path / "wharf-data"
        data_dir.mkdir()
        server = WharfdUp(data_dir, on=host)
        server.start()
        try:
            developer = new_developer(server.wharf, tmp_path)
            app = push_new_app(developer, "procfile_only", tmp_path)
            wait_until_served(server.wharf, app, 60)
            yield host, server, developer, app
        finally:
            server.stop()


def test_dockerd_restart_fails_no_request_and_duplicates_no_dyno(
    served_on_test_host: tuple[DockerTestHost, WharfdUp, Developer, str],
) -> None:
    host, server, developer, app = served_on_test_host
    client = host.client()
    try:
        with developer.api as api:
            api.patch(f"/api/apps/{app}/formation", json={"updates": [{"type": "web", "quantity": 2}]})
        wait_for(lambda: len(web_dynos(client, app)) == 2, "web=2 did not converge", 90)
        before = web_dynos(client, app)

        url = f"http://{host.address}:{server.wharf.http_port}/"
        with Load(url=url, host=f"{app}.localhost") as load:
            time.sleep(3)
            stopped_at = time.monotonic()
            host.stop_dockerd()
            answered_before_away = load.counts()[0]
            time.sleep(2)
            answered_away = load.counts()[0] - answered_before_away
            assert load.counts()[1] == 0, "the dynos stopped answering while dockerd was away"
            assert answered_away > 0, "no request was answered while dockerd was away"
            host.start_dockerd()  # the same arguments, live-restore on
            back_after = time.monotonic() - stopped_at
            time.sleep(10)  # the scheduler and log shipper reconnect under load
            load.until_answered()  # on a busy host, load on until there is enough to show something
        answered, failed = load.counts()
        print(
            f"dockerd restart: back after {back_after:.1f}s; {answered} answered "
            f"({answered_away} while dockerd was away), {failed} failed"
        )
        assert answered > 200, f"too little load to show anything: {answered} answers"
        assert failed == 0, f"{failed} of {answered + failed} requests failed: {load.failures[:5]}"

        client.close()
        client = host.client()  # the old client's connections went with the old engine
        assert web_dynos(client, app) == before, "live-restore kept the same dynos, none replaced or added"

        # The scheduler follows the restarted engine: a scale converges to exactly the formation.
        with developer.api as api:
            api.patch(f"/api/apps/{app}/formation", json={"updates": [{"type": "web", "quantity": 3}]})
        wait_for(
            lambda: (
                sorted(web_dynos(client, app)) == ["web.1", "web.2", "web.3"]
                and all(state == "running" for _id, state in web_dynos(client, app).values())
            ),
            "web=3 did not converge after the dockerd restart",
            90,
        )
        time.sleep(5)
        after = web_dynos(client, app)
        assert len(after) == 3 and all(after[name] == before[name] for name in before), after
        # The log shipper follows the engine's events and the new dyno's output again.
        wait_for(
            lambda: any(e.get("dyno") == "web.3" for e in log_lines(developer, app)),
            "the log shipper shipped nothing of web.3 after the dockerd restart",
            60,
        )
        # The router serves every dyno the scheduler routes.
        wait_until_served(server.wharf, app, 30)
    finally:
        client.close()
