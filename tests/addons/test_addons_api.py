"""Add-ons through a live `wharfd api` on the in-memory provider: what a user sees over the API."""

from __future__ import annotations

import hashlib
from urllib.parse import urlsplit

import httpx

from tests.conftest import LiveServer
from tests.utils.addons_api import config, create_addon, new_app, user_client


def test_creating_postgres_attaches_database_url_in_a_new_release(live_server: LiveServer) -> None:
    client = user_client(live_server)
    app = new_app(client)

    addon = create_addon(client, app, "postgres")

    assert addon["name"].startswith("postgresql-")
    assert addon["attachment"] == "DATABASE_URL"
    url = urlsplit(config(client, app)["DATABASE_URL"])
    assert (url.scheme, url.hostname, url.port) == ("postgres", addon["name"], 5432)
    assert url.username and url.password and len(url.password) >= 24
    newest = client.get(f"/api/apps/{app}/releases").json()[0]
    assert newest["description"] == f"Attach {addon['name']} as DATABASE_URL"
    listed = client.get(f"/api/apps/{app}/addons").json()
    assert [a["name"] for a in listed] == [addon["name"]]


def test_each_kind_gets_its_own_config_var_and_a_second_of_a_kind_its_name(live_server: LiveServer) -> None:
    client = user_client(live_server)
    app = new_app(client)

    redis = create_addon(client, app, "redis")
    cache = create_addon(client, app, "memcached")
    second = create_addon(client, app, "redis")
    named = create_addon(client, app, "heroku-redis", **{"as": "sessions"})

    settings = config(client, app)
    assert (
        settings["REDIS_URL"].startswith("redis://default:")
        and f"@{redis['name']}:6379" in settings["REDIS_URL"]
    )
    assert settings["MEMCACHED_URL"] == f"memcached://{cache['name']}:11211"
    assert second["attachment"] == second["name"].upper().replace("-", "_") + "_URL"
    assert named["attachment"] == "SESSIONS_URL" and "SESSIONS_URL" in settings


def test_unknown_kind_and_taken_attachment_are_refused(live_server: LiveServer) -> None:
    client = user_client(live_server)
    app = new_app(client)
    create_addon(client, app, "redis")

    unknown = client.post(f"/api/apps/{app}/addons", json={"kind": "mongodb"})
    taken = client.post(f"/api/apps/{app}/addons", json={"kind": "redis", "as": "REDIS"})

    assert unknown.status_code == 400 and "postgres" in unknown.json()["message"]
    assert taken.status_code == 409
    assert len(client.get(f"/api/apps/{app}/addons").json()) == 1


def test_wrong_confirmation_destroys_nothing_and_the_right_one_detaches(live_server: LiveServer) -> None:
    client = user_client(live_server)
    app = new_app(client)
    addon = create_addon(client, app, "postgres")
    name = addon["name"]
    client.post(
        f"/api/apps/{app}/addons/{name}/console", json={"command": "SET answer 42"}
    ).raise_for_status()

    wrong = client.delete(f"/api/apps/{app}/addons/{name}", params={"confirm": app})

    assert wrong.status_code == 400 and "Nothing was destroyed" in wrong.json()["message"]
    assert "DATABASE_URL" in config(client, app)
    kept = client.post(f"/api/apps/{app}/addons/{name}/console", json={"command": "GET answer"})
    assert kept.json()["output"] == "42\n"

    right = client.delete(f"/api/apps/{app}/addons/{name}", params={"confirm": name})

    assert right.status_code == 204
    assert "DATABASE_URL" not in config(client, app)
    assert client.get(f"/api/apps/{app}/addons").json() == []
    assert client.get(f"/api/apps/{app}/releases").json()[0]["description"] == f"Detach {name}"


def test_backups_capture_download_and_restore_after_saying_what_is_overwritten(
    live_server: LiveServer,
) -> None:
    client = user_client(live_server)
    app = new_app(client)
    create_addon(client, app, "postgres")
    base = f"/api/apps/{app}/addons/DATABASE"
    client.post(f"{base}/console", json={"command": "SET rows 3"}).raise_for_status()

    backup = client.post(f"{base}/backups").json()
    download = client.get(f"{base}/backups/{backup['id']}/download")
    client.post(f"{base}/console", json={"command": "SET rows 0"}).raise_for_status()
    preview = client.get(f"{base}/backups/latest/restore").json()
    refused = client.post(f"{base}/backups/{backup['id']}/restore", json={"confirm": "not-the-app"})
    after_refusal = client.post(f"{base}/console", json={"command": "GET rows"}).json()["output"]
    restored = client.post(f"{base}/backups/{backup['id']}/restore", json={"confirm": app})

    assert backup["id"] == "b001" and backup["status"] == "completed"
    assert download.status_code == 200 and hashlib.sha256(download.content).hexdigest() == backup["sha256"]
    assert len(download.content) == backup["size_bytes"]
    assert preview["overwrites"] == ["public.rows (~1 rows)"] and preview["confirm"] == app
    assert refused.status_code == 400 and after_refusal == "0\n"
    assert restored.status_code == 200
    assert client.post(f"{base}/console", json={"command": "GET rows"}).json()["output"] == "3\n"
    assert [b["id"] for b in client.get(f"{base}/backups").json()] == ["b001"]


def test_another_addons_backup_restores_into_a_new_addon(
    live_server: LiveServer,
) -> None:
    """After losing an add-on's node: a new Postgres add-on of the app takes the old one's backup."""
    client = user_client(live_server)
    app = new_app(client)
    old = create_addon(client, app, "postgres")
    client.post(f"/api/apps/{app}/addons/DATABASE/console", json={"command": "SET rows 7"}).raise_for_status()
    client.post(f"/api/apps/{app}/addons/DATABASE/backups").raise_for_status()
    new = create_addon(client, app, "postgres", **{"as": "RESTORED"})
    base = f"/api/apps/{app}/addons/RESTORED"

    preview = client.get(f"{base}/backups/{old['name']}::latest/restore").json()
    missing = client.post(f"{base}/backups/{old['name']}::b009/restore", json={"confirm": app})
    stranger = client.post(f"{base}/backups/no-such-addon::b001/restore", json={"confirm": app})
    restored = client.post(f"{base}/backups/DATABASE::b001/restore", json={"confirm": app})

    assert preview["database"].startswith(new["name"]) and preview["backup"]["id"] == "b001"
    assert missing.status_code == 404 and stranger.status_code == 404
    assert restored.status_code == 200, restored.text
    assert client.post(f"{base}/console", json={"command": "GET rows"}).json()["output"] == "7\n"


def test_backup_schedule_is_validated_and_shown(live_server: LiveServer) -> None:
    client = user_client(live_server)
    app = new_app(client)
    create_addon(client, app, "postgres")
    base = f"/api/apps/{app}/addons/DATABASE"

    bad = client.put(f"{base}/backup-schedule", json={"at": "25:00"})
    good = client.put(f"{base}/backup-schedule", json={"at": "02:30", "retention": 3})

    assert bad.status_code == 400
    assert good.json()["backup_schedule"] == "daily at 02:30 UTC" and good.json()["backup_retention"] == 3
    redis = create_addon(client, app, "redis")
    assert (
        client.put(
            f"/api/apps/{app}/addons/{redis['name']}/backup-schedule", json={"at": "02:30"}
        ).status_code
        == 404
    )


def test_another_user_sees_none_of_it(live_server: LiveServer) -> None:
    owner = user_client(live_server)
    app = new_app(owner)
    addon = create_addon(owner, app, "postgres")
    stranger = user_client(live_server)
    base = f"/api/apps/{app}/addons"

    answers: list[httpx.Response] = [
        stranger.get(base),
        stranger.post(base, json={"kind": "redis"}),
        stranger.get(f"{base}/{addon['name']}"),
        stranger.post(f"{base}/{addon['name']}/console", json={"command": "GET x"}),
        stranger.post(f"{base}/{addon['name']}/backups"),
        stranger.delete(f"{base}/{addon['name']}", params={"confirm": addon["name"]}),
    ]

    assert [a.status_code for a in answers] == [404] * len(answers)
    assert [a["name"] for a in owner.get(base).json()] == [addon["name"]]
    stranger_app = new_app(stranger)
    assert stranger.get(f"/api/apps/{stranger_app}/addons/{addon['name']}").status_code == 404
