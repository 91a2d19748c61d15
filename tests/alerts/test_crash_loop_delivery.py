"""A crash loop of a real scheduled dyno fires an alert to a real webhook receiver and a real SMTP server on
loopback, and a fixed release resolves it; the evaluator's lines land in the app's log."""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable

import pytest
from sqlalchemy import select

from tests.alerts.fakes import FakeMetrics
from tests.scheduler.test_reconciler import deployed_app
from tests.utils.busybox_dynos import TEST_IMAGE, WEB
from tests.utils.scheduler_world import CIPHER, World
from tests.utils.smtp import Mailbox, smtp_server
from tests.utils.webhooks import webhook_receiver
from wharf.platform.actions.alerts import AlertRequest, add_alert
from wharf.platform.alerts.delivery import Deliverer, Notification, signature
from wharf.platform.alerts.evaluator import AlertEvaluator
from wharf.platform.db import session_factory, session_scope
from wharf.platform.models import Alert, App, User
from wharf.platform.runtime.fake import FakeRuntime
from wharf.platform.scheduler.dynos import restarts_of
from wharf.platform.settings import Settings


def _add(world: World, app: str, request: AlertRequest) -> tuple[int, str]:
    with session_scope(world.database_url) as session:
        row = session.scalars(select(App).where(App.name == app)).one()
        owner = session.scalars(select(User).where(User.email == world.owner_email)).one()
        alert, secret = add_alert(
            session=session, app=row, actor=owner, cipher=CIPHER, request=request, limit=20
        )
        return alert.id, secret


def _crash_until_looping(world: World, app: str, restarts: int) -> None:
    runtime = world.runtime
    assert isinstance(runtime, FakeRuntime)
    while True:
        up = next(d for d in world.dynos(app) if d.running)
        if restarts_of(up) >= restarts:
            return
        runtime.crash(up.id, exit_code=2)

        def replaced(gone: str = up.id) -> bool:
            return any(d.running and d.id != gone for d in world.dynos(app))

        world.converge(replaced, timeout=15)


def test_crash_loop_fires_to_webhook_and_email_and_resolves_after_a_fix(world: World) -> None:
    app = deployed_app(world)
    crash_loop_scenario(world, app, lambda: _crash_until_looping(world, app, restarts=3))


def crash_loop_scenario(world: World, app: str, start_looping: Callable[[], None]) -> None:
    """Alerts to a webhook and an email fire once `start_looping` returns; a fixed release resolves them."""
    lines: list[tuple[str, str]] = []
    with webhook_receiver() as hooks, smtp_server() as mailbox:
        hooks.fail_first = 1  # the first attempt is answered 503: delivery retries
        settings = Settings(
            wharf_log_drain_allow_private=True, wharf_smtp_host=mailbox.host, wharf_smtp_port=mailbox.port
        )
        hook_id, secret = _add(world, app, AlertRequest(kind="crash", webhook=hooks.url, threshold=3))
        mail_id, _ = _add(world, app, AlertRequest(kind="crash", email="oncall@example.com", threshold=3))
        deliverer = Deliverer(settings, first_retry=0.1)
        evaluator = AlertEvaluator(
            sessions=session_factory(world.database_url),
            cipher=CIPHER,
            metrics=FakeMetrics(),
            dynos=lambda name: world.runtime.list_dynos(name),
            notify=deliverer.submit,
            write_line=lambda name, text: lines.append((name, text)),
        )

        def ours(sent: list[Notification]) -> list[Notification]:
            # The database is shared with other tests' apps and alerts.
            return [n for n in sent if n.app == app]

        try:
            assert ours(evaluator.evaluate_once()) == []
            start_looping()
            fired = ours(evaluator.evaluate_once())
            assert sorted((n.alert_id, n.state) for n in fired) == [(hook_id, "firing"), (mail_id, "firing")]
            hook = hooks.wait_for(lambda body: body["state"] == "firing")[0]
            body = hook.json()
            assert (body["app"], body["kind"], body["alert_id"]) == (app, "crash", hook_id)
            assert "web.1 restarted 3 times" in body["detail"]
            assert hook.headers["Wharf-Signature"] == signature(secret, hook.body)
            message = mailbox.wait_for("oncall@example.com")[0]
            assert "crash alert FIRING" in str(message["Subject"]) and app in str(message["Subject"])
            assert "restarted 3 times" in Mailbox.text_of(message)
            # Still looping: no repeat within the repeat interval.
            assert ours(evaluator.evaluate_once()) == []
            with session_scope(world.database_url) as session:
                states = {
                    a.id: (a.state, a.last_fired_at is not None) for a in session.scalars(select(Alert))
                }
            assert states[hook_id] == ("firing", True)

            world.release(app, {"web": WEB}, image=TEST_IMAGE)
            status, output = world.deploy(app)
            assert status == "succeeded", output
            resolved = ours(evaluator.evaluate_once())
            assert sorted((n.alert_id, n.state) for n in resolved) == [
                (hook_id, "resolved"),
                (mail_id, "resolved"),
            ]
            done = hooks.wait_for(lambda body: body["state"] == "resolved")[0]
            assert done.headers["Wharf-Signature"] == signature(secret, done.body)
            assert json.loads(done.body)["app"] == app
            assert "resolved" in str(mailbox.wait_for("oncall@example.com", count=2)[1]["Subject"])
        finally:
            deliverer.close()
    assert [text.split(":")[0] for name, text in lines if name == app] == [
        f"Alert {hook_id} (crash) firing",
        f"Alert {mail_id} (crash) firing",
        f"Alert {hook_id} (crash) resolved",
        f"Alert {mail_id} (crash) resolved",
    ]


def _notification(url: str) -> Notification:
    return Notification(
        alert_id=1,
        app="a",
        kind="crash",
        state="firing",
        detail="d",
        time="t",
        threshold=3.0,
        for_minutes=1,
        webhook_url=url,
        email=None,
        secret="s",
    )


def test_webhooks_to_loopback_are_refused_unless_the_operator_allows_them() -> None:
    with webhook_receiver() as hooks:
        deliverer = Deliverer(Settings(wharf_log_drain_allow_private=False), attempts=2, first_retry=0.01)
        try:
            error = deliverer.deliver(_notification(hooks.url))
        finally:
            deliverer.close()
        assert error is not None and "internal address" in error
        assert hooks.hooks == []


@pytest.mark.parametrize("attempts", [3])
def test_a_webhook_that_keeps_failing_is_retried_with_backoff_then_given_up(attempts: int) -> None:
    with webhook_receiver() as hooks:
        hooks.fail_first = 100
        deliverer = Deliverer(
            Settings(wharf_log_drain_allow_private=True), attempts=attempts, first_retry=0.01
        )
        try:
            error = deliverer.deliver(_notification(hooks.url))
        finally:
            deliverer.close()
        assert error is not None and "503" in error
        assert hooks.fail_first == 100 - attempts


def test_without_an_smtp_server_an_email_alert_is_not_retried(caplog: pytest.LogCaptureFixture) -> None:
    deliverer = Deliverer(Settings(), attempts=3, first_retry=0.01)
    email = dataclasses.replace(
        _notification("https://x.example.com"), webhook_url=None, email="a@example.com"
    )
    try:
        with caplog.at_level(logging.WARNING, logger="wharf.platform.alerts.delivery"):
            error = deliverer.deliver(email)
    finally:
        deliverer.close()
    assert error is not None and "WHARF_SMTP_HOST" in error
    assert [r.getMessage() for r in caplog.records] == [f"alert 1 of a not emailed: {error}"]
