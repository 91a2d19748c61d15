"""A Postgres add-on's data survives the loss of the host that ran it, through its backup.

The add-on runs on a private Docker host (tests/utils/test_host.py) that plays the host holding it;
its backup goes to a backups dir that is not on that host (WHARF_BACKUPS_DIR). The host is then lost
with its container and volume, the control plane carries on against another engine (this machine's),
add-on upkeep starts the add-on there again, empty, and `wharf pg:backups:restore` brings the rows back.
"""

from __future__ import annotations

import contextlib
import secrets
import subprocess
from pathlib import Path

import docker
import docker.errors
import httpx
import pytest

from tests.conftest import running_api
from tests.utils.addons_api import create_addon, new_app
from tests.utils.test_host import docker_test_host
from tests.utils.wharf_cli import cli_env, run_wharf
from wharf.platform.addons.docker_provider import volume_name
from wharf.platform.addons.upkeep import upkeep_addons_once, upkeep_context
from wharf.platform.migrate import upgrade_database
from wharf.platform.runtime.base import NetworkInUse
from wharf.platform.runtime.docker_runtime import DockerRuntime
from wharf.platform.settings import Settings

pytestmark = pytest.mark.e2e

POSTGRES_IMAGE = "wharf/addon-postgres:17"


def ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_rows_come_back_from_a_backup_after_the_addons_host_is_lost(redis_url: str, tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'wharf.db'}"
    upgrade_database(database_url)
    data_dir, backups_dir = tmp_path / "data", tmp_path / "elsewhere" / "backups"
    data_dir.mkdir()
    settings = {
        "WHARF_RUNTIME": "docker",
        "WHARF_SECRET_KEY": secrets.token_hex(32),
        "WHARF_BACKUPS_DIR": str(backups_dir),
    }

    with (
        docker_test_host(images=(POSTGRES_IMAGE,)) as lost_host,
        running_api(database_url, redis_url, data_dir, DOCKER_HOST=lost_host.docker_host, **settings) as api,
        httpx.Client(base_url=api.url, timeout=120) as client,
        contextlib.closing(lost_host.client()) as lost_engine,
    ):
        _email, token = api.signup()
        client.headers["Authorization"] = f"Bearer {token}"
        app = new_app(client)
        addon = create_addon(client, app, "postgres")["name"]
        try:
            wharf = cli_env(api.url, token, tmp_path)
            ok(run_wharf(wharf, "pg:psql", "-a", app, "-c", "CREATE TABLE notes (body text)"))
            ok(run_wharf(wharf, "pg:psql", "-a", app, "-c", "INSERT INTO notes VALUES ('kept'), ('safe')"))
            captured = ok(run_wharf(wharf, "pg:backups:capture", "-a", app))
            dump_size = (backups_dir / addon / "b001.dump").stat().st_size
            on_lost_host = [
                c.name
                for c in lost_engine.containers.list(
                    ignore_removed=True, filters={"label": f"wharf.app={app}"}
                )
            ]
        finally:
            # The host goes, and its disk with it: the add-on's container and volume are gone for good.
            lost_host.remove_containers()
            lost_engine.volumes.get(volume_name(addon)).remove(force=True)

    host_engine = docker.from_env()
    try:
        with running_api(database_url, redis_url, data_dir, **settings) as api:
            wharf = cli_env(api.url, token, tmp_path)
            upkeep = upkeep_context(
                Settings(
                    wharf_data_dir=data_dir,
                    database_url=database_url,
                    wharf_runtime="docker",
                    wharf_secret_key=settings["WHARF_SECRET_KEY"],
                    wharf_backups_dir=backups_dir,
                )
            )
            healed = upkeep_addons_once(upkeep, say=lambda _m: None)
            before = run_wharf(wharf, "pg:psql", "-a", app, "-c", "SELECT body FROM notes")
            restored = run_wharf(wharf, "pg:backups:restore", "b001", "-a", app, "--confirm", app)
            after = run_wharf(wharf, "pg:psql", "-a", app, "-c", "SELECT body FROM notes ORDER BY body")
            running_here = host_engine.containers.get(addon).status
            # Or a new add-on, on an engine that is still there, takes the lost one's backup.
            client = httpx.Client(base_url=api.url, timeout=120, headers={"Authorization": f"Bearer {token}"})
            with client:
                rescue = create_addon(client, app, "postgres", **{"as": "RESCUE"})["name"]
            into_new = run_wharf(
                wharf, "pg:backups:restore", f"{addon}::b001", "-d", "RESCUE", "-a", app, "--confirm", app
            )
            in_new = run_wharf(wharf, "pg:psql", "RESCUE", "-a", app, "-c", "SELECT count(*) FROM notes")
            ok(run_wharf(wharf, "addons:destroy", rescue, "-a", app, "--confirm", rescue))
            ok(run_wharf(wharf, "addons:destroy", addon, "-a", app, "--confirm", addon))
    finally:
        for container in host_engine.containers.list(
            ignore_removed=True, all=True, filters={"label": f"wharf.app={app}"}
        ):
            container.remove(force=True, v=True)
        for volume in host_engine.volumes.list(filters={"label": f"wharf.app={app}"}):
            volume.remove(force=True)
        with contextlib.suppress(docker.errors.NotFound):
            host_engine.volumes.get(volume_name(addon)).remove(force=True)
        with contextlib.suppress(NetworkInUse):
            DockerRuntime(host_engine).remove_network(app)
        host_engine.close()

    assert "Backup b001 completed" in captured
    assert on_lost_host == [addon]
    assert dump_size > 0
    assert healed == [
        f"started {addon} again (no container and no volume); its volume was gone, so it starts empty: "
        f"restore a backup with `wharf pg:backups:restore -a {app} --confirm {app}`"
    ]
    assert before.returncode != 0 and 'relation "notes" does not exist' in before.stdout + before.stderr
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert "kept" in after.stdout and "safe" in after.stdout, after.stdout + after.stderr
    assert running_here == "running"
    assert into_new.returncode == 0, into_new.stdout + into_new.stderr
    assert " 2\n" in in_new.stdout, in_new.stdout + in_new.stderr
