"""The cluster tier, run in `scripts/test.sh full` with the rest of the end-to-end tier (`pytest -m cluster`
runs it alone):

- dynos on a Docker Swarm whose manager is a private test host (tests/utils/swarm_host.py): one Swarm for
  the whole session (the `swarm_host` and `swarm_runtime` fixtures of tests/conftest.py, shared with the
  runtime contract's "swarm" parameter);
- the operator's node commands on a three-node Swarm of private test hosts (tests/utils/test_cluster.py),
  also one for the session, with `wharfd` run against one of its engines as an operator runs it there.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.utils.busybox_dynos import Apps
from tests.utils.test_cluster import SwarmTestCluster, swarm_test_cluster
from tests.utils.test_host import DockerTestHost
from wharf.platform.runtime.swarm_runtime import SwarmRuntime

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


@pytest.fixture
def swarm_apps(swarm_runtime: SwarmRuntime) -> Iterator[Apps]:
    apps = Apps(swarm_runtime)
    yield apps
    apps.cleanup()
