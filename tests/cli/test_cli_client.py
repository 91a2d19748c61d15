"""The API client turns every failure into a message the user can act on."""

from __future__ import annotations

import httpx
import pytest

from wharf.cli.client import WharfClient
from wharf.cli.errors import ApiError, ApiUnreachableError


def client_answering(response: httpx.Response, seen: list[httpx.Request] | None = None) -> WharfClient:
    def handle(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        return response

    return WharfClient("http://wharf.test:5000", token="tok", transport=httpx.MockTransport(handle))


def test_requests_go_under_api_with_the_bearer_token() -> None:
    seen: list[httpx.Request] = []
    client = client_answering(httpx.Response(200, json=[]), seen)
    assert client.apps() == []
    assert str(seen[0].url) == "http://wharf.test:5000/api/apps"
    assert seen[0].headers["Authorization"] == "Bearer tok"


def test_api_error_message_is_passed_through() -> None:
    client = client_answering(
        httpx.Response(404, json={"id": "not_found", "message": "Couldn't find that app."})
    )
    with pytest.raises(ApiError) as raised:
        client.app("nope")
    assert (raised.value.status, raised.value.error_id, raised.value.message) == (
        404, "not_found", "Couldn't find that app."
    )  # fmt: skip


def test_rate_limit_says_when_to_retry() -> None:
    answer = httpx.Response(
        429, headers={"Retry-After": "37"}, json={"id": "rate_limited", "message": "Too many failed logins."}
    )
    with pytest.raises(ApiError) as raised:
        client_answering(answer).login(email="a@example.com", password="x")
    assert raised.value.message == "Too many failed logins. Retry after 37 seconds."


def test_error_without_json_body_still_explains_the_status() -> None:
    with pytest.raises(ApiError, match="502 Bad Gateway"):
        client_answering(httpx.Response(502, text="<html>bad gateway</html>")).apps()


def test_unreachable_server_names_the_url_and_how_to_change_it() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Connection refused", request=request)

    client = WharfClient("http://10.1.2.3:5000", transport=httpx.MockTransport(refuse))
    with pytest.raises(ApiUnreachableError) as raised:
        client.apps()
    assert "http://10.1.2.3:5000" in raised.value.message
    assert "WHARF_API_URL" in raised.value.message
    assert "wharf login --api URL" in raised.value.message


def test_app_names_stay_inside_one_path_segment() -> None:
    seen: list[httpx.Request] = []
    client_answering(httpx.Response(200, json={}), seen).config("../account")
    assert seen[0].url.raw_path == b"/api/apps/..%2Faccount/config"
