"""Names that carry a newline or a control character are refused wherever a name is accepted.

A pattern ending in `$` matches before a trailing newline, so `victim.localhost\n.` used to become
a `server_name victim.localhost` placed before the victim's own, taking its traffic.
"""

from __future__ import annotations

import json
import secrets
import subprocess
from pathlib import Path

import pytest
import redis

from tests.conftest import LiveServer
from tests.utils.api import new_user_client
from tests.utils.dashboard import DashboardClient
from tests.utils.router import private_state_dir, running_dynos, running_router
from tests.utils.wharf_cli import cli_env, run_wharf
from wharf.platform.routing import set_app_backends
from wharf.router.nginx import ConfigRejected, NginxMaster
from wharf.router.render import RouterPaths

ROUTES_KEY = "wharf:routes"


def test_a_newline_hostname_is_refused_and_the_victim_keeps_its_traffic(live_server: LiveServer) -> None:
    redis_client = redis.Redis.from_url(live_server.redis_url)
    _, victim = new_user_client(live_server)
    _, attacker = new_user_client(live_server)
    victim_app, attacker_app = f"victim-{secrets.token_hex(3)}", f"attacker-{secrets.token_hex(3)}"
    victim.post("/api/apps", json={"name": victim_app}).raise_for_status()
    attacker.post("/api/apps", json={"name": attacker_app}).raise_for_status()
    try:
        for hostname in (f"{victim_app}.localhost\n.", f"{victim_app}.localhost\n", "shop.example.com\r\n"):
            answer = attacker.post(f"/api/apps/{attacker_app}/domains", json={"hostname": hostname})
            assert answer.status_code == 422, (hostname, answer.text)
            assert "control character" in answer.json()["message"]
        listed = [d["hostname"] for d in attacker.get(f"/api/apps/{attacker_app}/domains").json()]
        assert listed == [f"{attacker_app}.localhost"]
        table = json.loads(redis_client.get(ROUTES_KEY) or b"{}")
        names = [h for entry in table["apps"] for h in entry["hostnames"]]
        assert all("\n" not in name for name in names)

        with (
            running_dynos("victim.1", "attacker.1") as (victim_dyno, attacker_dyno),
            running_router(redis_client) as router,
        ):
            set_app_backends(redis_client, victim_app, [victim_dyno.backend.__dict__])
            set_app_backends(redis_client, attacker_app, [attacker_dyno.backend.__dict__])
            router.wait_for_backend(f"{attacker_app}.localhost", "attacker.1")
            # Workers on the config before both backends may take a request while a reload finishes;
            # the victim's name must come to answer from the victim's dyno (never the attacker's).
            router.wait_for_backend(f"{victim_app}.localhost", "victim.1")
    finally:
        victim.delete(f"/api/apps/{victim_app}", params={"confirm": victim_app})
        attacker.delete(f"/api/apps/{attacker_app}", params={"confirm": attacker_app})


def test_a_router_table_entry_with_a_newline_hostname_does_not_take_the_victims_traffic(
    redis_client: redis.Redis[bytes],
) -> None:
    """Even a table written past the API (an old record) cannot inject a server_name."""
    with (
        running_dynos("victim.1", "attacker.1") as (victim_dyno, attacker_dyno),
        running_router(redis_client) as router,
    ):
        table = {
            "generation": 7,
            "apps": [
                {
                    "app": "attacker",
                    "hostnames": ["attacker.localhost", "victim.localhost\n."],
                    "backends": [attacker_dyno.backend.__dict__],
                },
                {
                    "app": "victim",
                    "hostnames": ["victim.localhost"],
                    "backends": [victim_dyno.backend.__dict__],
                },
            ],
        }
        redis_client.set(ROUTES_KEY, json.dumps(table))
        redis_client.publish("wharf:routes:changed", "7")
        router.wait_until(lambda: router.applied_generation() >= 7)
        assert router.request("victim.localhost").json()["backend"] == "victim.1"


def test_nginx_refuses_a_config_with_a_conflicting_server_name_and_keeps_the_live_one() -> None:
    state = private_state_dir()
    try:
        paths = RouterPaths(state)
        (state / "logs").mkdir(exist_ok=True)
        nginx = NginxMaster(paths=paths)

        def config(*server_names: str) -> str:
            blocks = "".join(f"server {{ listen 127.0.0.1:1; server_name {n}; }}\n" for n in server_names)
            return f"pid {state}/nginx.pid;\nevents {{}}\nhttp {{ access_log off;\n{blocks}}}\n"

        good = config("victim.localhost", "attacker.localhost")
        nginx.install(good)
        with pytest.raises(ConfigRejected, match="conflicting server name"):
            nginx.install(config("victim.localhost", "attacker.localhost", "victim.localhost"))
        assert paths.config.read_text() == good
    finally:
        subprocess.run(["rm", "-rf", str(state)], check=False)


@pytest.mark.parametrize("name", ["evil\n", "evil\r", "ev\til", "evil\x00", "evil\u2028"])
def test_an_app_name_with_a_control_character_is_refused(live_server: LiveServer, name: str) -> None:
    _, client = new_user_client(live_server)
    answer = client.post("/api/apps", json={"name": name})
    assert answer.status_code == 422, answer.text
    assert "control character" in answer.json()["message"]
    assert all(a["name"] != name.strip() for a in client.get("/api/apps").json())


def test_a_config_var_name_with_a_newline_cannot_pass_the_reserved_name_check(
    live_server: LiveServer,
) -> None:
    _, client = new_user_client(live_server)
    name = f"cfg-{secrets.token_hex(3)}"
    client.post("/api/apps", json={"name": name}).raise_for_status()
    try:
        for key in ("PORT\n", "DYNO\n", "PATH\x00", "FOO\r\nBAR"):
            answer = client.patch(f"/api/apps/{name}/config", json={key: "1"})
            assert answer.status_code == 422, (key, answer.text)
        assert client.get(f"/api/apps/{name}/config").json() == {}
    finally:
        client.delete(f"/api/apps/{name}", params={"confirm": name})


def test_process_types_attachments_and_drains_refuse_control_characters(live_server: LiveServer) -> None:
    _, client = new_user_client(live_server)
    name = f"other-{secrets.token_hex(3)}"
    client.post("/api/apps", json={"name": name}).raise_for_status()
    try:
        scale = client.patch(
            f"/api/apps/{name}/formation", json={"updates": [{"type": "web\n", "quantity": 1}]}
        )
        assert scale.status_code == 422, scale.text
        drain = client.post(f"/api/apps/{name}/drains", json={"url": "https://logs.example.com\n/x"})
        assert drain.status_code == 422, drain.text
        assert client.get(f"/api/apps/{name}/drains").json() == []
    finally:
        client.delete(f"/api/apps/{name}", params={"confirm": name})


def test_the_dashboard_refuses_a_newline_app_name_and_domain(live_server: LiveServer) -> None:
    dashboard = DashboardClient(live_server)
    dashboard.signup()
    refused = dashboard.post("/apps", {"name": "evil\n"})
    assert refused.status_code == 422, refused.text
    app = dashboard.create_app()
    domain = dashboard.post(
        f"/apps/{app}/domains", {"hostname": f"{app}.localhost\n."}, token_from=f"/apps/{app}"
    )
    assert domain.status_code == 422, domain.text


def test_the_cli_refuses_a_newline_domain(live_server: LiveServer, tmp_path: Path) -> None:
    _, client = new_user_client(live_server)
    name = f"cli-{secrets.token_hex(3)}"
    client.post("/api/apps", json={"name": name}).raise_for_status()
    token = client.headers["Authorization"].split()[1]
    try:
        result = run_wharf(
            cli_env(live_server.url, token, tmp_path), "domains:add", "victim.example.com\n.", "-a", name
        )
        assert result.returncode != 0
        assert "control character" in result.stderr
        assert [d["kind"] for d in client.get(f"/api/apps/{name}/domains").json()] == ["default"]
    finally:
        client.delete(f"/api/apps/{name}", params={"confirm": name})
