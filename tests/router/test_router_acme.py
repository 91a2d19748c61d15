"""Automatic certificates from a real ACME server (Pebble) over http-01 answered by the router."""

from __future__ import annotations

import json
import ssl
from pathlib import Path

import pytest
import redis

from tests.utils.network import free_port
from tests.utils.pebble import PEBBLE_INSTALLED, issuer_of, running_pebble
from tests.utils.router import running_dynos, running_router
from wharf.router.acme import AcmeSettings
from wharf.router.routes import ACME_STATUS_KEY, AppRoute

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not PEBBLE_INSTALLED, reason="needs the Debian packages pebble and acme-tiny"),
]


def test_apps_with_automatic_certificates_get_one_from_the_acme_server(
    redis_client: redis.Redis[bytes], tmp_path: Path
) -> None:
    http_port = free_port()
    with (
        running_pebble(tmp_path, http_port) as acme,
        running_dynos("web.1") as (dyno,),
        running_router(redis_client, acme=acme, http_port=http_port) as router,
    ):
        router.publish(
            AppRoute(app="auto", hostnames=("auto.example.com",), backends=(dyno.backend,), acme=True)
        )
        https_port = router.settings.https_port
        router.wait_until(lambda: (issuer_of(https_port, "auto.example.com") or "").startswith("Pebble"), 60)
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        answer = router.https_request("auto.example.com", "/", context)
        assert answer.status == 200
        assert router.request("auto.example.com").status == 200
        router.wait_until(lambda: acme_status(redis_client, "auto.example.com").get("state") == "issued", 30)
        assert acme_status(redis_client, "auto.example.com")["app"] == "auto"


def test_an_app_with_automatic_certificates_off_gets_none_from_the_acme_server(
    redis_client: redis.Redis[bytes], tmp_path: Path
) -> None:
    http_port = free_port()
    with (
        running_pebble(tmp_path, http_port) as acme,
        running_dynos("web.1") as (dyno,),
        running_router(redis_client, acme=acme, http_port=http_port) as router,
    ):
        router.publish(
            AppRoute(app="manual", hostnames=("manual.example.com",), backends=(dyno.backend,), acme=False),
            AppRoute(app="auto", hostnames=("on.example.com",), backends=(dyno.backend,), acme=True),
        )
        router.wait_until(lambda: acme_status(redis_client, "on.example.com").get("state") == "issued", 60)
        assert acme_status(redis_client, "manual.example.com") == {}
        assert not (issuer_of(router.settings.https_port, "manual.example.com") or "").startswith("Pebble")
        assert router.request("manual.example.com").status == 200


def acme_status(client: redis.Redis[bytes], hostname: str) -> dict[str, str]:
    raw = client.hget(ACME_STATUS_KEY, hostname)
    return json.loads(raw) if raw else {}


def test_a_failing_acme_order_is_recorded_with_why_and_logged_to_the_app(
    redis_client: redis.Redis[bytes],
) -> None:
    unreachable = AcmeSettings(directory_url=f"https://127.0.0.1:{free_port()}/dir", retry_after_seconds=600)
    with (
        running_dynos("web.1") as (dyno,),
        running_router(redis_client, acme=unreachable) as router,
    ):
        router.publish(
            AppRoute(app="doomed", hostnames=("doomed.example.com",), backends=(dyno.backend,), acme=True)
        )
        router.wait_until(
            lambda: acme_status(redis_client, "doomed.example.com").get("state") == "failing", 60
        )
        status = acme_status(redis_client, "doomed.example.com")
        assert status["app"] == "doomed"
        assert "acme-tiny failed" in status["detail"] and "next attempt in 600 s" in status["detail"]
        router.wait_until(
            lambda: any(app == "doomed" and "code=ACME" in line for app, line in router.lines), 10
        )
        assert router.request("doomed.example.com").status == 200, "plain HTTP keeps serving"
