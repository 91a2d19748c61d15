"""The cluster tier: dynos on a Docker Swarm whose manager is a private test host (tests/utils/swarm_host.py).

One Swarm serves the whole session (the `swarm_host` and `swarm_runtime` fixtures of tests/conftest.py,
shared with the runtime contract's "swarm" parameter). It runs in `scripts/test.sh full` with the rest
of the end-to-end tier; `pytest -m cluster` runs it alone.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.utils.busybox_dynos import Apps
from wharf.platform.runtime.swarm_runtime import SwarmRuntime


@pytest.fixture
def swarm_apps(swarm_runtime: SwarmRuntime) -> Iterator[Apps]:
    apps = Apps(swarm_runtime)
    yield apps
    apps.cleanup()
