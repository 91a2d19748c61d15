"""The fake's own controls, which scheduler unit tests drive, and the choice of runtime from settings."""

from __future__ import annotations

import pytest

from tests.utils.busybox_dynos import WEB, make_spec
from wharf.platform.runtime import (
    DynoState,
    EventAction,
    ImageNotFound,
    Runtime,
    get_runtime,
)
from wharf.platform.runtime.docker_runtime import DockerRuntime
from wharf.platform.runtime.fake import FakeProgram, FakeRuntime


def test_get_runtime_builds_the_named_implementation() -> None:
    fake = get_runtime("fake")
    assert isinstance(fake, FakeRuntime) and isinstance(fake, Runtime)
    with pytest.raises(ValueError, match="docker, fake"):
        get_runtime("kubernetes")


@pytest.mark.e2e
def test_get_runtime_docker_talks_to_the_local_engine() -> None:
    runtime = get_runtime("docker")
    assert isinstance(runtime, DockerRuntime) and isinstance(runtime, Runtime)
    assert isinstance(runtime.list_dynos(), list)


def test_crash_ends_a_running_dyno_and_is_seen_as_an_event() -> None:
    runtime = FakeRuntime()
    runtime.ensure_network("shop")
    dyno = runtime.start_dyno(make_spec("shop", WEB))
    events = runtime.events(timeout=1)

    crashed = runtime.crash(dyno.id, exit_code=1)

    assert (crashed.state, crashed.exit_code, crashed.address) == (DynoState.CRASHED, 1, None)
    assert [(e.action, e.exit_code) for e in events] == [(EventAction.DIE, 1)]
    assert runtime.wait(dyno.id, timeout=0) == 1


def test_replaced_programs_apply_to_dynos_started_afterwards() -> None:
    runtime = FakeRuntime()
    runtime.ensure_network("shop")
    healthy = runtime.start_dyno(make_spec("shop", WEB, release=1))

    runtime.replace_program(lambda spec: FakeProgram(exit_code=1))
    broken = runtime.start_dyno(make_spec("shop", WEB, release=2))

    assert runtime.get_dyno(healthy.id).state is DynoState.UP
    assert (broken.state, broken.exit_code) == (DynoState.CRASHED, 1)


def test_a_fake_limited_to_known_images_refuses_others() -> None:
    runtime = FakeRuntime(images={"wharf/shop:v1"})
    runtime.ensure_network("shop")

    runtime.start_dyno(make_spec("shop", WEB, image="wharf/shop:v1"))
    with pytest.raises(ImageNotFound):
        runtime.start_dyno(make_spec("shop", WEB, image="wharf/shop:v2"))


def test_stop_timeouts_can_pass_instantly_in_unit_tests() -> None:
    waited: list[float] = []
    runtime = FakeRuntime(lambda spec: FakeProgram(term_exit_code=None), sleep=waited.append)
    runtime.ensure_network("shop")
    dyno = runtime.start_dyno(make_spec("shop", WEB))

    stopped = runtime.stop_dyno(dyno.id, timeout=30)

    assert waited == [30]
    assert stopped.exit_code == 137
