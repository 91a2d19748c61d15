"""Upgrades: a schema written by a newer Wharf is refused by every process of this one, with what to do,
and `wharfd migrate` run while other migrators (another `wharfd migrate`, `wharfd up`) do is safe."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from wharf.platform.db import get_engine
from wharf.platform.migrate import database_revisions, known_revisions

WHARFD = [sys.executable, "-m", "wharf.platform.wharfd"]
NEWER = "the database schema is newer than this Wharf; upgrade Wharf"


def wharfd_env(data_dir: Path, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "WHARF_SECRET_KEY")}
    env.update(WHARF_DATA_DIR=str(data_dir), DATABASE_URL=database_url)
    return env


def run_wharfd(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*WHARFD, *args], env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture(params=["sqlite", "postgres"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'wharf.db'}"
        return
    admin_url = os.environ.get("WHARF_TEST_POSTGRES_URL")
    if admin_url is None:
        pytest.skip("set WHARF_TEST_POSTGRES_URL to test against PostgreSQL")
    name = f"wharf_test_{secrets.token_hex(4)}"
    admin = get_engine(admin_url).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    yield url
    get_engine(url).dispose()
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_concurrent_migrations_bring_the_schema_up_to_date_once(empty_database: str, tmp_path: Path) -> None:
    env = wharfd_env(tmp_path / "data", empty_database)
    migrators = [
        subprocess.Popen([*WHARFD, "migrate"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        for _ in range(3)
    ]
    outputs = [process.communicate(timeout=120)[0].decode() for process in migrators]
    assert [process.returncode for process in migrators] == [0, 0, 0], outputs
    heads = database_revisions(empty_database)
    assert heads and heads <= known_revisions()
    again = run_wharfd(env, "migrate")
    assert again.returncode == 0 and "up to date" in again.stderr
    assert database_revisions(empty_database) == heads


def test_a_schema_from_a_newer_wharf_is_refused_by_every_process(empty_database: str, tmp_path: Path) -> None:
    env = wharfd_env(tmp_path / "data", empty_database)
    assert run_wharfd(env, "migrate").returncode == 0
    with get_engine(empty_database).begin() as connection:
        connection.execute(text("INSERT INTO alembic_version (version_num) VALUES ('0099_from_the_future')"))
    for command in (["migrate"], ["up"], ["api"], ["scheduler"], ["services"], ["invites", "create"]):
        answer = run_wharfd(env, *command)
        said = " ".join((answer.stdout + answer.stderr).split())
        assert answer.returncode == 1, f"wharfd {' '.join(command)} ran on a newer schema: {said[-500:]}"
        assert NEWER in said and "0099_from_the_future" in said, said[-500:]
    # Refused before touching anything: the newer revision is still recorded.
    assert "0099_from_the_future" in database_revisions(empty_database)
