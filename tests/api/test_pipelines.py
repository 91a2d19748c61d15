"""Pipelines through the API: stages, membership, and what a promotion refuses before it touches images."""

from __future__ import annotations

import secrets
from datetime import timedelta

import httpx
import redis
from sqlalchemy import select

from tests.conftest import LiveServer
from tests.utils.api import new_user_client
from wharf.platform.db import session_scope, utcnow
from wharf.platform.git.review import sweep_idle_review_apps
from wharf.platform.models import App, Pipeline, PipelineApp
from wharf.platform.settings import Settings


def new_app(client: httpx.Client, prefix: str) -> str:
    name = f"{prefix}-{secrets.token_hex(3)}"
    client.post("/api/apps", json={"name": name}).raise_for_status()
    return name


def new_pipeline(client: httpx.Client, app: str, stage: str = "staging") -> str:
    name = f"pl-{secrets.token_hex(3)}"
    created = client.post("/api/pipelines", json={"name": name, "app": app, "stage": stage})
    assert created.status_code == 201, created.text
    return name


def test_stages_and_info(live_server: LiveServer) -> None:
    _, client = new_user_client(live_server)
    staging, production = new_app(client, "stg"), new_app(client, "prd")
    pipeline = new_pipeline(client, staging)
    added = client.post(f"/api/pipelines/{pipeline}/apps", json={"app": production, "stage": "production"})
    assert added.status_code == 201, added.text
    info = client.get(f"/api/pipelines/{pipeline}").json()
    assert [(a["app"], a["stage"]) for a in info["apps"]] == [
        (staging, "staging"),
        (production, "production"),
    ]
    assert info["review_apps"] == {"enabled": False, "pattern": "review/*", "idle_days": 5}
    assert [p["name"] for p in client.get("/api/pipelines").json()] == [pipeline]
    left = client.delete(f"/api/apps/{production}/pipeline")
    assert left.status_code == 204
    assert [a["app"] for a in client.get(f"/api/pipelines/{pipeline}").json()["apps"]] == [staging]
    assert client.delete(f"/api/pipelines/{pipeline}").status_code == 204
    assert client.get(f"/api/pipelines/{pipeline}").status_code == 404
    # The apps outlive their pipeline.
    assert client.get(f"/api/apps/{staging}").status_code == 200


def test_unknown_stage_is_refused(live_server: LiveServer) -> None:
    _, client = new_user_client(live_server)
    app = new_app(client, "stage")
    refused = client.post(
        "/api/pipelines", json={"name": f"pl-{secrets.token_hex(3)}", "app": app, "stage": "qa"}
    )
    assert refused.status_code == 400
    assert refused.json()["id"] == "invalid_stage"
    assert "production" in refused.json()["message"]
    assert client.get("/api/pipelines").json() == []


def test_bad_pipeline_name_is_refused(live_server: LiveServer) -> None:
    _, client = new_user_client(live_server)
    app = new_app(client, "named")
    for name in ("Bad Name", "x" * 21, "trailing-", "a\nb"):
        refused = client.post("/api/pipelines", json={"name": name, "app": app, "stage": "staging"})
        assert refused.status_code in (400, 422), (name, refused.text)


def test_an_app_belongs_to_one_pipeline(live_server: LiveServer) -> None:
    _, client = new_user_client(live_server)
    app, other = new_app(client, "one"), new_app(client, "two")
    first = new_pipeline(client, app)
    second = new_pipeline(client, other)
    refused = client.post(f"/api/pipelines/{second}/apps", json={"app": app, "stage": "production"})
    assert refused.status_code == 409
    assert refused.json()["id"] == "app_in_pipeline"
    assert first in refused.json()["message"]


def test_promoting_without_a_downstream_app_is_refused(live_server: LiveServer) -> None:
    _, client = new_user_client(live_server)
    app = new_app(client, "alone")
    new_pipeline(client, app, stage="production")
    refused = client.post(f"/api/apps/{app}/pipeline/promote", json={})
    assert refused.status_code == 400
    assert refused.json()["id"] == "no_downstream"
    outside = new_app(client, "outside")
    refused = client.post(f"/api/apps/{outside}/pipeline/promote", json={})
    assert refused.json()["id"] == "not_in_pipeline"


def test_promoting_an_app_without_a_deployed_release_is_refused(live_server: LiveServer) -> None:
    _, client = new_user_client(live_server)
    staging, production = new_app(client, "nodeploy"), new_app(client, "nodeploy-prd")
    pipeline = new_pipeline(client, staging)
    client.post(f"/api/pipelines/{pipeline}/apps", json={"app": production, "stage": "production"})
    refused = client.post(f"/api/apps/{staging}/pipeline/promote", json={})
    assert refused.status_code == 400
    assert refused.json()["id"] == "no_release"
    assert len(client.get(f"/api/apps/{production}/releases").json()) == 1


def test_another_users_apps_and_pipelines_are_out_of_reach(live_server: LiveServer) -> None:
    _, owner = new_user_client(live_server)
    _, stranger = new_user_client(live_server)
    theirs = new_app(owner, "theirs")
    pipeline = new_pipeline(owner, theirs)
    mine = new_app(stranger, "mine")
    assert stranger.get(f"/api/pipelines/{pipeline}").status_code == 404
    joined = stranger.post(f"/api/pipelines/{pipeline}/apps", json={"app": mine, "stage": "production"})
    assert joined.status_code == 404
    own = new_pipeline(stranger, mine)
    assert (
        stranger.post(f"/api/pipelines/{own}/apps", json={"app": theirs, "stage": "production"}).status_code
        == 404
    )
    promoted = stranger.post(f"/api/apps/{mine}/pipeline/promote", json={"to": [theirs]})
    assert promoted.status_code == 404


def test_review_app_settings(live_server: LiveServer) -> None:
    _, client = new_user_client(live_server)
    pipeline = new_pipeline(client, new_app(client, "rv"))
    body = {"enabled": True, "pattern": "feature/*", "idle_days": 2}
    updated = client.put(f"/api/pipelines/{pipeline}/review-apps", json=body)
    assert updated.status_code == 200, updated.text
    assert updated.json()["review_apps"] == {"enabled": True, "pattern": "feature/*", "idle_days": 2}
    bad = client.put(f"/api/pipelines/{pipeline}/review-apps", json={"enabled": True, "pattern": "a b"})
    assert bad.status_code == 400


def test_idle_review_apps_are_destroyed_by_the_sweep(live_server: LiveServer) -> None:
    _, client = new_user_client(live_server)
    pipeline = new_pipeline(client, new_app(client, "base"))
    client.put(f"/api/pipelines/{pipeline}/review-apps", json={"enabled": True, "idle_days": 2})
    idle, fresh = new_app(client, f"{pipeline}-rv-old"), new_app(client, f"{pipeline}-rv-new")
    now = utcnow()
    with session_scope(live_server.database_url) as session:
        pipeline_id = session.scalars(select(Pipeline.id).where(Pipeline.name == pipeline)).one()
        for name, pushed in ((idle, now - timedelta(days=3)), (fresh, now - timedelta(days=1))):
            app_id = session.scalars(select(App.id).where(App.name == name)).one()
            session.add(
                PipelineApp(
                    pipeline_id=pipeline_id,
                    app_id=app_id,
                    stage="review",
                    review_branch=f"review/{name}",
                    last_push_at=pushed,
                )
            )
    settings = Settings(
        wharf_runtime="fake",
        wharf_data_dir=live_server.data_dir,
        database_url=live_server.database_url,
        redis_url=live_server.redis_url,
        wharf_secret_key=live_server.env["WHARF_SECRET_KEY"],
    )
    connection = redis.Redis.from_url(live_server.redis_url)
    try:
        assert sweep_idle_review_apps(settings=settings, client=connection, now=now) == [idle]
    finally:
        connection.close()
    assert client.get(f"/api/apps/{idle}").status_code == 404
    assert client.get(f"/api/apps/{fresh}").status_code == 200
    listed = [a["app"] for a in client.get(f"/api/pipelines/{pipeline}").json()["apps"]]
    assert idle not in listed and fresh in listed
