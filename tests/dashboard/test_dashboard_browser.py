"""The dashboard in a real browser: sign up, create an app, set config, scale, roll back, and watch logs.

Runs against a live `wharfd api` process (fake runtime); a deployed release is made through the
service layer, as a build would make it. Screenshots of the main pages go to test-artifacts/dashboard/.
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import pytest
import redis
from playwright.sync_api import Page, expect
from sqlalchemy import select

from tests.conftest import LiveServer
from tests.utils.dashboard import PASSWORD
from wharf.platform.actions import formation
from wharf.platform.db import session_scope
from wharf.platform.logs.stream import LogWriter
from wharf.platform.models import App, Build
from wharf.platform.records import releases
from wharf.platform.security.crypto import ConfigCipher

pytestmark = pytest.mark.e2e

UNLABELLED_CONTROLS = """
() => Array.from(document.querySelectorAll("input:not([type=hidden]), select, textarea, button"))
  .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute("aria-label")
                  && !(el.tagName === "BUTTON" && el.textContent.trim()))
  .map((el) => el.outerHTML)
"""
PROCESS_TYPES = {"web": "python3 -m http.server $PORT", "worker": "python3 work.py"}
FITS_WIDTH = "() => document.documentElement.scrollWidth <= window.innerWidth"


def assert_accessible_basics(page: Page) -> None:
    """Every control has a label, and there is one main landmark with a level-one heading."""
    assert page.evaluate(UNLABELLED_CONTROLS) == []
    expect(page.get_by_role("main")).to_have_count(1)
    expect(page.get_by_role("heading", level=1)).to_have_count(1)


def sign_up(page: Page, server: LiveServer, artifacts: Path) -> str:
    invite = server.make_invite()
    email = f"browser-{secrets.token_hex(4)}@example.com"
    page.goto(f"{server.url}/signup?invite={invite}")
    expect(page.get_by_label("Invite code")).to_have_value(invite)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    assert_accessible_basics(page)
    page.screenshot(path=str(artifacts / "signup.png"), full_page=True)
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(f"{server.url}/apps")
    return email


def deploy_release(server: LiveServer, app_name: str) -> None:
    """What a successful build leaves behind: a build with output and a release with process types."""
    cipher = ConfigCipher(server.env["WHARF_SECRET_KEY"])
    with session_scope(server.database_url) as session:
        app = session.scalars(select(App).where(App.name == app_name)).one()
        build = Build(
            app_id=app.id,
            commit="0123456789abcdef",
            status="succeeded",
            image=f"wharf/{app_name}:v3",
            output="-----> Python app detected\n-----> Launching...\n",
            duration_seconds=4.2,
        )
        session.add(build)
        session.flush()
        release = releases.create_release(
            session=session,
            cipher=cipher,
            app=app,
            actor=None,
            description="Deploy 0123456",
            config=releases.current_config(session=session, cipher=cipher, app=app),
            build_id=build.id,
            image=build.image,
            process_types=PROCESS_TYPES,
        )
        build.release_version = release.version


def formation_of(server: LiveServer, app_name: str) -> dict[str, tuple[int, str]]:
    with session_scope(server.database_url) as session:
        app = session.scalars(select(App).where(App.name == app_name)).one()
        rows = formation.list_formation(session=session, app=app)
        return {row.process_type: (row.quantity, row.size) for row in rows}


def test_sign_up_create_app_set_config_scale_and_read_builds(
    page: Page, live_server: LiveServer, artifacts: Path
) -> None:
    sign_up(page, live_server, artifacts)
    name = f"web-{secrets.token_hex(3)}"
    # Keyboard only: type the name and press Enter.
    page.get_by_label("Name").focus()
    page.keyboard.type(name)
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{live_server.url}/apps/{name}")
    expect(page.get_by_role("heading", level=1)).to_have_text(name)

    config = page.locator("#config")
    config.get_by_label("Key", exact=True).fill("GREETING")
    config.get_by_label("Value", exact=True).fill("hello from the dashboard")
    config.get_by_role("button", name="Set").click()
    expect(config.get_by_role("rowheader", name="GREETING")).to_be_visible()
    expect(page.locator("body")).not_to_contain_text("hello from the dashboard")
    config.get_by_role("link", name="Reveal config vars").click()
    expect(config.get_by_label("Value of GREETING")).to_have_value("hello from the dashboard")
    config.get_by_label("Value of GREETING").fill("edited in place")
    config.get_by_role("button", name="Save GREETING").click()
    # The page the server answers with lists the new release (the typed value alone shows before that).
    expect(page.locator("#releases tbody tr th").first).to_contain_text("v3")
    expect(config.get_by_label("Value of GREETING")).to_have_value("edited in place")

    deploy_release(live_server, name)
    page.reload()
    dynos = page.locator("#dynos")
    expect(dynos.get_by_role("rowheader", name="worker")).to_be_visible()
    dynos.get_by_label("Dynos of web").fill("2")
    dynos.get_by_label("Size of web dynos").select_option("standard")
    dynos.get_by_role("button", name="Scale web").click()
    expect(page.locator("#dynos-web-state")).to_contain_text("2 \u00d7 standard")
    assert formation_of(live_server, name) == {"web": (2, "standard")}
    expect(page.locator("#releases")).to_contain_text("Set GREETING config vars")

    # v5 changes config on top of the deployed v4; rolling back to v4 brings v4's config back as v6.
    config.get_by_role("link", name="Reveal config vars").click()
    config.get_by_label("Value of GREETING").fill("changed after the deploy")
    config.get_by_role("button", name="Save GREETING").click()
    expect(page.locator("#releases tbody tr th").first).to_contain_text("v5")
    expect(config.get_by_label("Value of GREETING")).to_have_value("changed after the deploy")
    page.locator("#releases").get_by_role("button", name="Roll back to v4").click()
    expect(page.locator("#releases tbody tr").first).to_contain_text("Rollback to v4")
    page.goto(f"{live_server.url}/apps/{name}?reveal=config")
    expect(config.get_by_label("Value of GREETING")).to_have_value("edited in place")
    page.goto(f"{live_server.url}/apps/{name}")
    assert_accessible_basics(page)
    page.screenshot(path=str(artifacts / "app.png"), full_page=True)

    page.locator("#builds").get_by_role("link", name=re.compile("Output")).click()
    expect(page.locator("pre.output")).to_contain_text("Python app detected")
    page.screenshot(path=str(artifacts / "build.png"), full_page=True)

    page.goto(f"{live_server.url}/apps")
    expect(page.get_by_role("link", name=name)).to_be_visible()
    page.screenshot(path=str(artifacts / "apps.png"), full_page=True)


def test_errors_show_in_the_page_and_change_nothing(
    page: Page, live_server: LiveServer, artifacts: Path, console_errors: list[str]
) -> None:
    sign_up(page, live_server, artifacts)
    page.get_by_label("Name").fill(f"err-{secrets.token_hex(3)}")
    page.get_by_role("button", name="Create app").click()
    config = page.locator("#config")
    config.get_by_label("Key", exact=True).fill("PORT")
    config.get_by_label("Value", exact=True).fill("1234")
    config.get_by_role("button", name="Set").click()
    expect(page.get_by_role("alert")).to_contain_text("PORT is set by Wharf")
    expect(config).to_contain_text("No config vars yet.")
    assert any("400" in error for error in console_errors)
    console_errors.clear()


def test_log_lines_arrive_live_with_source_filter(
    page: Page, live_server: LiveServer, artifacts: Path
) -> None:
    sign_up(page, live_server, artifacts)
    name = f"logs-{secrets.token_hex(3)}"
    page.get_by_label("Name").fill(name)
    page.get_by_role("button", name="Create app").click()
    page.get_by_role("link", name="Logs", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("Live")

    writer = LogWriter(redis.Redis.from_url(live_server.redis_url))
    writer.write(name, source="app", dyno="web.1", line="GET / 200 from the browser test")
    lines = page.get_by_label("Log lines, newest last")
    expect(lines).to_contain_text("app[web.1]: GET / 200 from the browser test")

    page.get_by_label("router", exact=True).check()
    expect(page.get_by_role("status")).to_contain_text("router lines only")
    writer.write(name, source="app", dyno="web.1", line="app line hidden by the filter")
    writer.write(name, source="router", dyno="router", line="at=info method=GET path=/ status=200")
    expect(lines).to_contain_text("heroku[router]: at=info method=GET")
    expect(lines).not_to_contain_text("app line hidden by the filter")
    assert_accessible_basics(page)
    page.screenshot(path=str(artifacts / "logs.png"), full_page=True)


def test_invites_and_phone_sized_screen(
    page: Page, phone: Page, live_server: LiveServer, artifacts: Path
) -> None:
    sign_up(page, live_server, artifacts)
    page.get_by_role("link", name="Invites").click()
    page.get_by_label("Note").fill("for a friend")
    page.get_by_role("button", name="Create invite").click()
    link = page.locator("#new-invite-link")
    expect(link).to_contain_text("/signup?invite=")
    signup_url = link.inner_text()
    page.screenshot(path=str(artifacts / "invites.png"), full_page=True)

    # The friend opens the link on a phone and signs up with it.
    phone.goto(signup_url)
    code = signup_url.rsplit("=", 1)[1]
    expect(phone.get_by_label("Invite code")).to_have_value(code)
    phone.get_by_label("Email").fill(f"friend-{secrets.token_hex(3)}@example.com")
    phone.get_by_label("Password").fill(PASSWORD)
    phone.get_by_role("button", name="Create account").click()
    expect(phone).to_have_url(f"{live_server.url}/apps")
    phone.get_by_label("Name").fill(f"phone-{secrets.token_hex(3)}")
    phone.get_by_role("button", name="Create app").click()
    expect(phone.get_by_role("heading", level=1)).to_be_visible()
    assert phone.evaluate(FITS_WIDTH), "the app page scrolls sideways on a phone"
    phone.screenshot(path=str(artifacts / "app-phone.png"), full_page=True)

    page.goto(f"{live_server.url}/invites")
    expect(page.locator("main")).to_contain_text("for a friend")
    expect(page.locator("main")).to_contain_text("friend-")


def test_addons_create_and_destroy(page: Page, live_server: LiveServer, artifacts: Path) -> None:
    sign_up(page, live_server, artifacts)
    page.get_by_label("Name").fill(f"addon-{secrets.token_hex(3)}")
    page.get_by_role("button", name="Create app").click()
    addons = page.locator("#addons")
    addons.get_by_label("Add-on").select_option("redis")
    addons.get_by_role("button", name="Create add-on").click()
    expect(addons).to_contain_text("as REDIS_URL")
    addon_name = addons.locator("strong").first.inner_text()
    # The section refreshes itself while provisioning; once available, the add-on is attached.
    expect(addons.locator(f"#addon-{addon_name}-status")).to_have_text("available")
    page.reload()
    expect(page.locator("#config").get_by_role("rowheader", name="REDIS_URL")).to_be_visible()
    page.screenshot(path=str(artifacts / "app-addons.png"), full_page=True)
    addons.get_by_label(f"Type {addon_name} to destroy it").fill(addon_name)
    addons.get_by_role("button", name=f"Destroy {addon_name}").click()
    expect(addons).to_contain_text("No add-ons yet.")
