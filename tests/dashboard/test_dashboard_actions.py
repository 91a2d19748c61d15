"""What the dashboard changes, it changes as the API does: one action behind both entry points."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
import redis
from rq import Queue
from sqlalchemy import select

from tests.conftest import LiveServer
from tests.utils.busybox_dynos import build_test_image, make_spec
from tests.utils.dashboard import DashboardClient
from wharf.platform.db import session_scope
from wharf.platform.jobs import BUILD_QUEUE
from wharf.platform.models import App
from wharf.platform.repos import ensure_repo
from wharf.platform.runtime.docker_runtime import DockerRuntime
from wharf.platform.settings import Settings
from wharf.platform.web.context import build_context
from wharf.platform.web.dashboard.sections import dyno_states
from wharf.router.routes import load_routes


def served_apps(redis_url: str) -> dict[str, tuple[str, ...]]:
    """App -> hostnames, as the router reads the published route table."""
    client = redis.Redis.from_url(redis_url)
    try:
        return {route.app: route.hostnames for route in load_routes(client).apps}
    finally:
        client.close()


def test_an_app_created_in_the_dashboard_is_routed_at_once(live_server: LiveServer) -> None:
    client = DashboardClient(live_server)
    client.signup()
    name = client.create_app()
    assert served_apps(live_server.redis_url).get(name) == (f"{name}.localhost",)


def test_a_domain_added_in_the_dashboard_is_routed_and_removed_again(live_server: LiveServer) -> None:
    client = DashboardClient(live_server)
    client.signup()
    name = client.create_app()
    hostname = f"www.{name}.example.com"
    answer = client.post(f"/apps/{name}/domains", {"hostname": hostname}, token_from=f"/apps/{name}")
    assert answer.status_code == 303, answer.text
    assert hostname in served_apps(live_server.redis_url)[name]
    answer = client.post(f"/apps/{name}/domains/remove", {"hostname": hostname}, token_from=f"/apps/{name}")
    assert answer.status_code == 303, answer.text
    assert hostname not in served_apps(live_server.redis_url)[name]


def test_automatic_certificates_are_switched_from_the_app_page(live_server: LiveServer) -> None:
    client = DashboardClient(live_server)
    client.signup()
    name = client.create_app()
    page = client.http.get(f"/apps/{name}").text
    assert 'id="acm-toggle"' in page and "Turn automatic certificates off" in page
    answer = client.post(f"/apps/{name}/acm", {"enabled": "off"}, token_from=f"/apps/{name}")
    assert answer.status_code == 303, answer.text
    assert "Turn automatic certificates on" in client.http.get(f"/apps/{name}").text
    with session_scope(live_server.database_url) as session:
        assert session.scalars(select(App).where(App.name == name)).one().acm is False
    client.post(f"/apps/{name}/acm", {"enabled": "on"}, token_from=f"/apps/{name}")
    assert "Turn automatic certificates off" in client.http.get(f"/apps/{name}").text


def test_destroying_in_the_dashboard_unroutes_the_app_and_queues_its_image_removal(
    live_server: LiveServer,
) -> None:
    client = DashboardClient(live_server)
    client.signup()
    name = client.create_app()
    repo = ensure_repo(data_dir=live_server.data_dir, app_name=name, max_push_bytes=1 << 20)
    answer = client.post(f"/apps/{name}/destroy", {"confirm": name}, token_from=f"/apps/{name}")
    assert answer.status_code == 303, answer.text
    assert name not in served_apps(live_server.redis_url)
    assert not repo.exists()
    connection = redis.Redis.from_url(live_server.redis_url)
    try:
        queued = Queue(BUILD_QUEUE, connection=connection).get_jobs()
        removals = [j for j in queued if str(j.func_name).endswith("remove_destroyed_app_images")]
        assert any(j.kwargs.get("app_name") == name for j in removals), [j.kwargs for j in queued]
    finally:
        connection.close()


@pytest.fixture
def two_installations(tmp_path: Path) -> Iterator[tuple[Settings, DockerRuntime, DockerRuntime, str]]:
    """This installation's settings and runtime, another installation's runtime, and one app name."""
    client = docker.from_env()
    build_test_image(client)
    settings = Settings(wharf_runtime="docker", wharf_data_dir=tmp_path)
    mine = DockerRuntime(client, installation=settings.installation_id)
    other = DockerRuntime(client, installation=f"other-{secrets.token_hex(4)}")
    app = f"inst-{secrets.token_hex(4)}"
    mine.ensure_network(app)
    yield settings, mine, other, app
    for runtime in (mine, other):
        for dyno in runtime.list_dynos(app):
            runtime.remove_dyno(dyno.id)
    mine.remove_network(app)
    client.close()


@pytest.mark.e2e
def test_the_dashboards_dyno_list_shows_only_this_installations_dynos(
    two_installations: tuple[Settings, DockerRuntime, DockerRuntime, str], redis_url: str
) -> None:
    settings, mine, other, app = two_installations
    mine.start_dyno(make_spec(app, ("sleep", "300"), number=1))
    other.start_dyno(make_spec(app, ("sleep", "300"), number=2))
    assert {d.dyno for d in DockerRuntime(installation=None).list_dynos(app)} == {"web.1", "web.2"}

    context = build_context(settings.model_copy(update={"redis_url": redis_url}))
    shown = dyno_states(context=context, app=App(name=app))
    assert shown is not None
    assert [d.name for d in shown["web"]] == ["web.1"]
