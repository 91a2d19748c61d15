"""A test run in a real test dyno (the busybox image): exit codes, test-setup, CI=true and the time cap."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from tests.utils.busybox_dynos import build_test_image
from wharf.platform.settings import Settings
from wharf.platform.testphase.manifest import TestEnvironment
from wharf.platform.testphase.runner import TestOutcome, TestTarget, ci_network_owner, run_tests

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def image() -> Iterator[str]:
    client = docker.from_env()
    try:
        yield build_test_image(client)
    finally:
        client.close()


def run(tmp_path: Path, image: str, environment: TestEnvironment, timeout: float = 60) -> TestOutcome:
    settings = Settings(wharf_runtime="docker", wharf_data_dir=tmp_path, wharf_test_timeout_seconds=timeout)
    app = f"t{secrets.token_hex(4)}"
    target = TestTarget(app=app, number=1, image=image, launcher=())
    lines: list[str] = []
    outcome = run_tests(settings, target, environment, lines.append)
    client = docker.from_env()
    try:
        assert client.networks.list(names=[f"wharf-{ci_network_owner(app, 1)}"]) == []
        assert (
            client.containers.list(ignore_removed=True, all=True, filters={"label": f"wharf.app={app}"}) == []
        )
    finally:
        client.close()
    assert outcome.output.splitlines() == [line for line in lines if line]
    return outcome


def test_a_failing_test_reports_its_exit_code_and_output_with_ci_set(tmp_path: Path, image: str) -> None:
    outcome = run(
        tmp_path, image, TestEnvironment(test='echo "ci=$CI level=$LEVEL"; exit 5', env=(("LEVEL", "7"),))
    )
    assert (outcome.status, outcome.exit_code) == ("failed", 5)
    assert outcome.message == "Tests failed with exit code 5"
    assert "       ci=true level=7" in outcome.output.splitlines()


def test_test_setup_runs_first_in_the_same_dyno(tmp_path: Path, image: str) -> None:
    outcome = run(tmp_path, image, TestEnvironment(setup="echo ready > /tmp/ready", test="cat /tmp/ready"))
    assert (outcome.status, outcome.exit_code) == ("succeeded", 0)
    assert "       ready" in outcome.output.splitlines()


def test_a_failing_test_setup_errors_the_run_without_running_the_tests(tmp_path: Path, image: str) -> None:
    outcome = run(tmp_path, image, TestEnvironment(setup="exit 4", test="echo tests-ran"))
    assert (outcome.status, outcome.exit_code) == ("errored", 4)
    assert outcome.message == "test-setup failed with exit code 4"
    assert "       tests-ran" not in outcome.output.splitlines()
    assert "wharf-test-setup-failed" not in outcome.output


def test_a_run_over_the_operators_time_cap_is_stopped_and_fails_saying_so(tmp_path: Path, image: str) -> None:
    began = time.monotonic()
    outcome = run(tmp_path, image, TestEnvironment(test="sleep 60"), timeout=2)
    assert time.monotonic() - began < 30
    assert outcome.status == "failed"
    assert "did not finish within" in outcome.message and "WHARF_TEST_TIMEOUT_SECONDS" in outcome.message
