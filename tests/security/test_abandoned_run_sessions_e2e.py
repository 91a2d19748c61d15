"""Starving the API with `wharf run`: sessions do not hold request threads, are capped per user, and a
client that goes away takes its one-off dyno with it.

Five invited users open ten sessions each (the default cap), all at once, then vanish (SIGKILL, as a
closed laptop or a killed CI job would). Before, each session held one of the 40 threads every
synchronous route shares and its dyno ran on after the client was gone: about 40 sessions froze the API.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.utils.e2e import Wharf, new_developer
from tests.utils.oneoff import PushedApp, attached_dynos, push_procfile_app, wait_until

pytestmark = pytest.mark.e2e

USERS = 5
PER_USER = 10  # WHARF_RUN_SESSIONS_PER_USER's default
# A request that answers at all answers in milliseconds; the bound only leaves room for a loaded host.
ANSWER_WITHIN_SECONDS = 5.0


@pytest.fixture(scope="module")
def tenants(wharf: Wharf, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[PushedApp]]:
    homes = [tmp_path_factory.mktemp(f"tenant-{n}") for n in range(USERS)]
    developers = [new_developer(wharf, home) for home in homes]  # sign-ups hash passwords: one at a time
    with ThreadPoolExecutor(USERS) as pool:
        pairs = zip(homes, developers, strict=True)
        pushed = list(pool.map(lambda pair: push_procfile_app(wharf, *pair), pairs))
    yield pushed
    for tenant in pushed:
        tenant.developer.api.delete(f"/api/apps/{tenant.name}", params={"confirm": tenant.name})


def start_session(tenant: PushedApp, logs: Path, number: int) -> tuple[subprocess.Popen[bytes], Path]:
    """`wharf run -- sleep 3600` with its input held open, as an interactive session would."""
    stderr = logs / f"{tenant.name}-{number}.err"
    with stderr.open("wb") as err:
        process = subprocess.Popen(
            tenant.run_argv("sleep", "3600"),
            env=tenant.env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    return process, stderr


def timed_request(tenant: PushedApp) -> float:
    """An ordinary authenticated request; seconds until it answered."""
    started = time.monotonic()
    answer = tenant.developer.api.get("/api/apps", timeout=60)
    elapsed = time.monotonic() - started
    assert answer.status_code == 200, answer.text
    return elapsed


def test_fifty_abandoned_sessions_neither_stall_the_api_nor_outlive_their_clients(
    tenants: list[PushedApp], tmp_path: Path
) -> None:
    sessions = [start_session(t, tmp_path, n) for t in tenants for n in range(PER_USER)]
    try:
        all_up = wait_until(lambda: all(b"up, run." in err.read_bytes() for _, err in sessions), timeout=300)
        failed = [err.read_text() for process, err in sessions if process.poll() is not None]
        assert all_up, failed[:3]
        assert sum(len(attached_dynos(t.name)) for t in tenants) == USERS * PER_USER

        over_the_cap = tenants[0].run("echo", "one too many", timeout=60)
        assert over_the_cap.returncode == 1
        assert b"WHARF_RUN_SESSIONS_PER_USER=10" in over_the_cap.stderr, over_the_cap.stderr

        while_open = [timed_request(t) for t in tenants]
        assert max(while_open) < ANSWER_WITHIN_SECONDS, while_open
    finally:
        for process, _ in sessions:
            process.send_signal(signal.SIGKILL)
        for process, _ in sessions:
            process.wait()

    after = [timed_request(t) for t in tenants]
    assert max(after) < ANSWER_WITHIN_SECONDS, after
    assert wait_until(lambda: not any(attached_dynos(t.name) for t in tenants), timeout=120), [
        attached_dynos(t.name) for t in tenants
    ]
    again = tenants[0].run("echo", "sessions freed")
    assert again.returncode == 0 and again.stdout == b"sessions freed\n", again.stderr


def test_the_client_ends_when_its_dyno_ends_on_the_server(tenants: list[PushedApp], tmp_path: Path) -> None:
    tenant = tenants[0]
    process, stderr = start_session(tenant, tmp_path, 99)
    try:
        assert wait_until(lambda: b"up, run." in stderr.read_bytes(), timeout=120), stderr.read_text()
        dyno = stderr.read_text().rsplit("up, ", 1)[1].split()[0]
        stop = tenant.developer.api.post(f"/api/apps/{tenant.name}/dynos/{dyno}/stop")
        assert stop.status_code < 300, stop.text
        code = process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert code == 143, stderr.read_text()
    assert wait_until(lambda: not attached_dynos(tenant.name), timeout=60)


def test_a_session_without_a_valid_token_is_refused_before_any_dyno_starts(
    tenants: list[PushedApp],
) -> None:
    tenant = tenants[0]
    env = tenant.env() | {"WHARF_API_TOKEN": "not-a-token"}
    refused = subprocess.run(
        tenant.run_argv("echo", "hi"), env=env, capture_output=True, timeout=60, check=False
    )
    assert refused.returncode == 1
    assert b"Invalid credentials" in refused.stderr, refused.stderr
    assert not attached_dynos(tenant.name)
    other = tenants[1]
    foreign = subprocess.run(
        [*tenant.run_argv("echo", "hi")[:3], other.name, "--", "echo", "hi"],
        env=tenant.env(),
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert foreign.returncode == 1 and foreign.stdout == b"", foreign.stderr
    assert not attached_dynos(other.name)
    assert httpx.get(f"{tenant.developer.wharf.url}/api/health", timeout=10).status_code == 200
