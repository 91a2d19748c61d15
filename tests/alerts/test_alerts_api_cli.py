"""alerts:add, alerts, alerts:remove and ps:autoscale through the CLI against a real API process."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from tests.conftest import LiveServer
from tests.utils.api import client_for, release_web
from tests.utils.wharf_cli import cli_env, run_wharf


def _app_with_web(live_server: LiveServer) -> tuple[str, str]:
    _, token = live_server.signup()
    name = f"alerts-{secrets.token_hex(4)}"
    client_for(live_server, token).post("/api/apps", json={"name": name}).raise_for_status()
    release_web(live_server, name)
    return name, token


def test_alerts_add_list_remove(live_server: LiveServer, tmp_path: Path) -> None:
    name, token = _app_with_web(live_server)
    env = cli_env(live_server.url, token, tmp_path)
    hook = run_wharf(
        env,
        "alerts:add",
        "p95",
        "-a",
        name,
        "--webhook",
        "https://hooks.example.com/w",
        "--threshold",
        "500",
        "--for",
        "3",
    )
    assert hook.returncode == 0, hook.stderr
    assert "Added alert" in hook.stdout and "p95 on" in hook.stdout
    assert "Webhook signing secret (shown once): whsec_" in hook.stdout
    mail = run_wharf(env, "alerts:add", "crash", "-a", name, "--email", "Ops@Example.com", "--json")
    assert mail.returncode == 0, mail.stderr
    added = json.loads(mail.stdout)
    assert added["target"] == "ops@example.com" and added["secret"] is None and added["threshold"] == 3

    listed = json.loads(run_wharf(env, "alerts", "-a", name, "--json").stdout)
    assert [
        (a["kind"], a["target"], a["threshold"], a["for"], a["state"], a["last_fired"]) for a in listed
    ] == [
        ("p95", "https://hooks.example.com/w", 500, 3, "ok", None),
        ("crash", "ops@example.com", 3, 1, "ok", None),
    ]
    assert all("secret" not in a or a["secret"] is None for a in listed)
    table = run_wharf(env, "alerts", "-a", name).stdout
    assert "500 ms" in table and "never" in table

    for args, message in [
        (("alerts:add", "cpu", "-a", name, "--email", "a@example.com"), "Unknown alert kind cpu"),
        (("alerts:add", "crash", "-a", name), "exactly one of --webhook URL or --email"),
        (
            ("alerts:add", "errors", "-a", name, "--email", "a@example.com", "--threshold", "150"),
            "percentage",
        ),
        (("alerts:add", "p95", "-a", name, "--webhook", "ftp://x.example.com"), "is not a webhook URL"),
        (("alerts:add", "p95", "-a", name, "--email", "a@example.com", "--for", "0"), "--for is in minutes"),
    ]:
        refused = run_wharf(env, *args)
        assert refused.returncode == 1 and message in refused.stderr, (args, refused.stderr)

    removed = run_wharf(env, "alerts:remove", str(listed[0]["id"]), "-a", name)
    assert removed.returncode == 0 and f"Removed alert {listed[0]['id']}" in removed.stdout
    assert [a["kind"] for a in json.loads(run_wharf(env, "alerts", "-a", name, "--json").stdout)] == ["crash"]
    again = run_wharf(env, "alerts:remove", str(listed[0]["id"]), "-a", name)
    assert again.returncode == 1 and "has no alert" in again.stderr

    # Another user sees none of it.
    _, other = live_server.signup()
    stranger = run_wharf(cli_env(live_server.url, other, tmp_path / "other"), "alerts", "-a", name)
    assert stranger.returncode == 1


def test_ps_autoscale_settings_and_log(live_server: LiveServer, tmp_path: Path) -> None:
    name, token = _app_with_web(live_server)
    env = cli_env(live_server.url, token, tmp_path)
    assert "does not autoscale" in run_wharf(env, "ps:autoscale", "-a", name).stdout
    on = run_wharf(env, "ps:autoscale", "web", "-a", name, "--min", "1", "--max", "10", "--p95", "300ms")
    assert on.returncode == 0, on.stderr
    assert "between 1 and 10 dynos for a p95 under 300 ms" in on.stdout
    shown = json.loads(run_wharf(env, "ps:autoscale", "-a", name, "--json").stdout)
    assert shown == [
        {
            "type": "web",
            "min": 1,
            "max": 10,
            "p95_ms": 300,
            "requests_per_dyno": None,
            "concurrency_per_dyno": None,
        }
    ]
    both = run_wharf(
        env,
        "ps:autoscale",
        "web",
        "-a",
        name,
        "--min",
        "1",
        "--max",
        "10",
        "--p95",
        "300ms",
        "--rpm-per-dyno",
        "3000",
        "--concurrency",
        "8",
    )
    assert both.returncode == 0, both.stderr
    assert "for a p95 under 300 ms and at most 8 requests in flight per dyno" in both.stdout
    shown = json.loads(run_wharf(env, "ps:autoscale", "-a", name, "--json").stdout)
    assert [(row["requests_per_dyno"], row["concurrency_per_dyno"]) for row in shown] == [(3000, 8)]
    table = run_wharf(env, "ps:autoscale", "-a", name).stdout
    assert "In flight per dyno" in table and table.split()[-2:] == ["3000", "8"]
    for args, message in [
        (
            ("ps:autoscale", "worker", "--min", "1", "--max", "2", "--p95", "300"),
            "Couldn't find that process type",
        ),
        (("ps:autoscale", "web", "--min", "3", "--max", "2", "--p95", "300"), "--max must be at least --min"),
        (("ps:autoscale", "web", "--min", "1", "--max", "2"), "Give --min, --max and --p95"),
        (("ps:autoscale", "web", "--min", "1", "--max", "2", "--p95", "fast"), "is not a duration"),
        (
            ("ps:autoscale", "web", "--min", "1", "--max", "2", "--p95", "300", "--concurrency", "0"),
            "--concurrency is the requests in flight one dyno takes on average: give 1 or more",
        ),
    ]:
        refused = run_wharf(env, *args, "-a", name)
        assert refused.returncode == 1 and message in refused.stderr, (args, refused.stderr)
    assert "has not scaled" in run_wharf(env, "ps:autoscale:log", "-a", name).stdout
    assert json.loads(run_wharf(env, "ps:autoscale:log", "-a", name, "--json").stdout) == []
    off = run_wharf(env, "ps:autoscale", "web", "--off", "-a", name)
    assert off.returncode == 0 and "is off" in off.stdout
    assert json.loads(run_wharf(env, "ps:autoscale", "-a", name, "--json").stdout) == []
    api_lines = run_wharf(env, "logs", "-a", name, "--source", "api").stdout
    assert "Autoscaling web between 1 and 10 dynos" in api_lines and "Autoscaling web turned off" in api_lines


def test_the_dashboard_app_page_lists_alerts_and_autoscaling(live_server: LiveServer) -> None:
    from tests.utils.dashboard import DashboardClient

    name, token = _app_with_web(live_server)
    api = client_for(live_server, token)
    email = api.get("/api/account").json()["email"]
    hook = "https://user:pass@hooks.example.com/w"
    added = api.post(f"/api/apps/{name}/alerts", json={"kind": "errors", "webhook": hook, "threshold": 2.5})
    assert added.status_code == 201, added.text
    setting = {"min": 2, "max": 4, "p95_ms": 250, "concurrency_per_dyno": 6}
    answer = api.put(f"/api/apps/{name}/autoscale/web", json=setting)
    assert answer.status_code == 200 and answer.json()["concurrency_per_dyno"] == 6, answer.text
    browser = DashboardClient(live_server)
    login = browser.post("/login", {"email": email, "password": "correct horse battery"}, token_from="/login")
    assert login.status_code == 303, login.text
    page = browser.page(f"/apps/{name}").text
    row = page[page.index(f'id="alert-{added.json()["id"]}"') :].split("</tr>")[0]
    assert "errors" in row and "https://hooks.example.com/w" in row and "2.5" in row and "never" in row
    assert "user:pass" not in page
    assert "between 2 and 4 dynos for a p95 under 250 ms and at most 6 requests in flight per dyno" in page


def test_out_of_range_numbers_are_refused_not_failed(live_server: LiveServer) -> None:
    name, token = _app_with_web(live_server)
    api = client_for(live_server, token)
    huge = 2**40
    base = {"kind": "p95", "email": "a@example.com"}
    assert api.post(f"/api/apps/{name}/alerts", json={**base, "for": huge}).status_code == 422
    assert api.post(f"/api/apps/{name}/alerts", json={**base, "threshold": 1e300}).status_code == 400
    assert api.delete(f"/api/apps/{name}/alerts/{huge}").status_code == 422
    assert api.delete(f"/api/apps/{name}/alerts/2147483647").status_code == 404
    scale = {"min": 1, "max": huge, "p95_ms": 300}
    assert api.put(f"/api/apps/{name}/autoscale/web", json=scale).status_code == 422
    assert api.put(f"/api/apps/{name}/autoscale/web", json={**scale, "max": 2**31 - 1}).status_code == 400
