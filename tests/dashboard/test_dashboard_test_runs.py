"""An app's test runs in the dashboard: listed on its page, each with its output on a page of its own."""

from __future__ import annotations

from sqlalchemy import select

from tests.conftest import LiveServer
from tests.utils.dashboard import DashboardClient
from wharf.platform.db import session_scope
from wharf.platform.models import App, TestRun


def record_failed_run(database_url: str, app_name: str) -> None:
    """What the test phase records for a push whose tests failed."""
    with session_scope(database_url) as session:
        app = session.scalar(select(App).where(App.name == app_name))
        assert app is not None
        session.add(
            TestRun(
                app_id=app.id,
                number=1,
                commit="0123456789abcdef0123456789abcdef01234567",
                status="failed",
                exit_code=3,
                message="Tests failed with exit code 3",
                output="FAILED test_checkout <expected 2, got 1>\n",
            )
        )


def test_the_app_page_lists_test_runs_and_a_run_shows_its_output(live_server: LiveServer) -> None:
    client = DashboardClient(live_server)
    client.signup()
    name = client.create_app()
    assert "No test runs" in client.page(f"/apps/{name}").text
    record_failed_run(live_server.database_url, name)

    listing = client.page(f"/apps/{name}").text
    assert 'id="test-runs"' in listing and f'href="/apps/{name}/test-runs/1"' in listing
    assert "state-failed" in listing and "0123456" in listing

    run = client.page(f"/apps/{name}/test-runs/1")
    assert run.status_code == 200
    assert "Test run #1" in run.text and "Tests failed with exit code 3" in run.text
    assert "FAILED test_checkout &lt;expected 2, got 1&gt;" in run.text

    stranger = DashboardClient(live_server)
    stranger.signup()
    assert stranger.page(f"/apps/{name}/test-runs/1").status_code == 404
    assert client.page(f"/apps/{name}/test-runs/2").status_code == 404
