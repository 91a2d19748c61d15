"""A `wharfd api` with small quotas, so that reaching each one takes a few requests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import LiveServer, running_api

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
    with running_api(database_url, redis_url, data_dir, **SMALL_QUOTAS) as server:
        yield server
