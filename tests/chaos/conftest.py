"""Tests marked `dockerd_restart` stop and start a dockerd of a private Docker host (a network namespace
of their own, tests/utils/test_host.py): they run only when asked for by name
(`pytest -m dockerd_restart tests/chaos`, a step of its own in scripts/test.sh full)."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "dockerd_restart" in (config.option.markexpr or ""):
        return
    chosen: list[pytest.Item] = []
    left_out: list[pytest.Item] = []
    for item in items:
        (left_out if item.get_closest_marker("dockerd_restart") else chosen).append(item)
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = chosen
