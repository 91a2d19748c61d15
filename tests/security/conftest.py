"""A `wharfd api` with small quotas, so that reaching each one takes a few requests."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.conftest import LiveServer
from tests.utils.network import free_port, wait_for_http

SMALL_QUOTAS = {
    "WHARF_MAX_APPS_PER_USER": "3",
    "WHARF_MAX_DYNOS_PER_TYPE": "5",
    "WHARF_MAX_DYNOS_PER_APP": "6",
    "WHARF_MAX_PROCESS_TYPES_PER_APP": "2",
    "WHARF_MAX_ADDONS_PER_APP": "2",
    "WHARF_MAX_DETACHED_DYNOS_PER_APP": "2",
}


@pytest.fixture(scope="module")
def quota_server(
    database_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    data_dir = tmp_path_factory.mktemp("wharf-quotas")
    port = free_port()
    env = dict(os.environ)
    env.update(
        WHARF_DATA_DIR=str(data_dir),
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        WHARF_SECRET_KEY=secrets.token_hex(32),
        WHARF_API_PORT=str(port),
        WHARF_API_HOST="127.0.0.1",
        WHARF_ENV="test",
        WHARF_RUNTIME="fake",
        **SMALL_QUOTAS,
    )
    with (data_dir / "api.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "wharf.platform.wharfd", "api"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{url}/api/health", process=process)
    except RuntimeError:
        process.kill()
        print((data_dir / "api.log").read_text())
        raise
    yield LiveServer(
        url=url, database_url=database_url, redis_url=redis_url, data_dir=data_dir, env=env, process=process
    )
    process.terminate()
    process.wait(timeout=15)
