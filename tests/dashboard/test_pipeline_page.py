"""The pipeline page in a real browser: stages side by side with each app's release, and promotion.

Runs against a live `wharfd api` process (fake runtime); the staging app's deployed release is made
through the service layer, as a build and deploy would leave it. Screenshot: test-artifacts/dashboard/.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from tests.conftest import LiveServer
from tests.dashboard.test_dashboard_browser import assert_accessible_basics, sign_up
from wharf.platform.actions import pipelines
from wharf.platform.db import session_scope
from wharf.platform.models import App, User
from wharf.platform.records import releases
from wharf.platform.security.crypto import ConfigCipher

pytestmark = pytest.mark.e2e


def create_app(page: Page, server: LiveServer, name: str) -> None:
    page.goto(f"{server.url}/apps")
    page.get_by_label("Name").fill(name)
    page.get_by_role("button", name="Create app").click()
    expect(page).to_have_url(f"{server.url}/apps/{name}")


def deployed(server: LiveServer, app_name: str) -> None:
    """A live release with an image, as a push leaves it once the scheduler deployed it."""
    cipher = ConfigCipher(server.env["WHARF_SECRET_KEY"])
    with session_scope(server.database_url) as session:
        app = session.scalars(select(App).where(App.name == app_name)).one()
        release = releases.create_release(
            session=session,
            cipher=cipher,
            app=app,
            actor=None,
            description="Deploy 0123456",
            config={},
            image=f"wharf/{app_name}:v2",
            image_id="sha256:" + "ab" * 32,
            process_types={"web": "python3 -m http.server $PORT"},
            source="push",
        )
        app.current_release_version = release.version


def make_pipeline(server: LiveServer, email: str, name: str, staging: str, production: str) -> None:
    with session_scope(server.database_url) as session:
        owner = session.scalars(select(User).where(User.email == email)).one()
        apps = {a.name: a for a in session.scalars(select(App).where(App.name.in_([staging, production])))}
        pipelines.create_pipeline(session=session, owner=owner, name=name, app=apps[staging], stage="staging")
        pipeline = pipelines.get_owned_pipeline(session=session, user=owner, name=name)
        pipelines.add_to_pipeline(
            session=session, actor=owner, pipeline=pipeline, app=apps[production], stage="production"
        )


def test_pipeline_page_shows_stages_and_promotes(
    page: Page, live_server: LiveServer, artifacts: Path
) -> None:
    email = sign_up(page, live_server, artifacts)
    suffix = secrets.token_hex(3)
    staging, production, name = f"stg-{suffix}", f"prd-{suffix}", f"shop-{suffix}"
    create_app(page, live_server, staging)
    create_app(page, live_server, production)
    deployed(live_server, staging)
    make_pipeline(live_server, email, name, staging, production)

    page.goto(f"{live_server.url}/pipelines")
    page.get_by_role("link", name=name).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"{name} pipeline")
    staging_card = page.locator("section.stage", has=page.get_by_role("heading", name="Staging"))
    production_card = page.locator("section.stage", has=page.get_by_role("heading", name="Production"))
    expect(staging_card.locator(f'[data-app="{staging}"] .release-version')).to_have_text("v2")
    expect(production_card).to_contain_text("Not deployed")
    # Side by side: the production stage is to the right of the staging stage, on one row.
    staging_box, production_box = staging_card.bounding_box(), production_card.bounding_box()
    assert staging_box and production_box
    assert production_box["x"] > staging_box["x"] and production_box["y"] == staging_box["y"]
    assert_accessible_basics(page)
    expect(production_card.get_by_role("button")).to_have_count(0)

    page.get_by_role("button", name=f"Promote {staging} to the next stage").click()
    # The promotion is production's v2, deploying (the scheduler then makes it the current release).
    expect(production_card.locator(".deploying")).to_contain_text(f"v2: Promote {staging} v2")
    page.screenshot(path=str(artifacts / "pipeline.png"), full_page=True)
    with session_scope(live_server.database_url) as session:
        app = session.scalars(select(App).where(App.name == production)).one()
        latest = releases.latest_release(session=session, app=app)
        assert (
            latest is not None and latest.source == "promotion" and latest.image_id == "sha256:" + "ab" * 32
        )
