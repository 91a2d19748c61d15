"""The cluster tier: one three-node Swarm of private test hosts (tests/utils/test_cluster.py) for the whole
session, and `wharfd` run against one of its engines as an operator runs it there."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.utils.test_cluster import SwarmTestCluster, swarm_test_cluster
from tests.utils.test_host import DockerTestHost

WHARFD = [sys.executable, "-m", "wharf.platform.wharfd"]


@dataclass
class Wharfd:
    """`wharfd` on a node: its engine is the node's, and it runs in the node's network namespace."""

    data_dir: Path

    def run(self, host: DockerTestHost, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", **host.env(), "WHARF_DATA_DIR": str(self.data_dir)}
        return subprocess.run(
            host.in_netns([*WHARFD, *args]), env=env, capture_output=True, text=True, timeout=timeout
        )

    def ok(self, host: DockerTestHost, *args: str, timeout: float = 300) -> str:
        done = self.run(host, *args, timeout=timeout)
        assert done.returncode == 0, f"wharfd {' '.join(args)}: {done.stdout}{done.stderr}"
        return done.stdout

    def nodes(self, host: DockerTestHost) -> list[dict[str, Any]]:
        listed: list[dict[str, Any]] = json.loads(self.ok(host, "nodes", "--json"))
        return listed


def said(done: subprocess.CompletedProcess[str]) -> str:
    """What wharfd wrote to stderr, on one line (its console wraps long lines)."""
    return " ".join(done.stderr.split())


@pytest.fixture(scope="session")
def swarm() -> Iterator[SwarmTestCluster]:
    with swarm_test_cluster(workers=2) as cluster:
        yield cluster


@pytest.fixture
def wharfd(tmp_path: Path) -> Wharfd:
    data_dir = tmp_path / "wharf-data"
    data_dir.mkdir(mode=0o700)
    return Wharfd(data_dir=data_dir)
