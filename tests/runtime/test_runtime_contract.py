"""The Runtime contract, run against the in-memory fake and (e2e) against real Docker."""

from __future__ import annotations

import time

import pytest

from tests.utils.busybox_dynos import (
    CRASHES,
    IGNORES_TERM,
    ONEOFF_EXIT_3,
    TRAPS_TERM,
    WEB,
    Apps,
    http_get,
    make_spec,
)
from wharf.platform.runtime import (
    DynoNotFound,
    DynoState,
    EventAction,
    NetworkInUse,
    NetworkNotFound,
    Runtime,
    network_name,
)
from wharf.platform.runtime.base import EXIT_CODE_KILLED


def test_started_dyno_is_up_with_its_labels_and_an_address(runtime: Runtime, apps: Apps) -> None:
    app = apps.new()

    dyno = runtime.start_dyno(make_spec(app, WEB, release=4))

    seen = runtime.get_dyno(dyno.id)
    assert seen.state is DynoState.UP
    assert seen.name == f"{app}.web.1"
    assert seen.command == WEB
    assert seen.started_at is not None and seen.exit_code is None
    assert {
        "wharf.app": app,
        "wharf.process-type": "web",
        "wharf.dyno": "1",
        "wharf.release": "4",
        "wharf.managed": "1",
    }.items() <= dict(seen.labels).items()
    assert seen.address is not None and seen.address[0]


def test_web_dyno_answers_http_from_the_host(runtime: Runtime, apps: Apps) -> None:
    dyno = runtime.start_dyno(make_spec(apps.new(), WEB))

    assert dyno.address is not None
    status, _ = http_get(dyno.address)

    assert status == 200


def test_stop_sends_sigterm_to_a_dyno_that_exits_cleanly(runtime: Runtime, apps: Apps) -> None:
    dyno = runtime.start_dyno(make_spec(apps.new(), TRAPS_TERM, process_type="worker"))
    time.sleep(0.5)  # let the shell install its trap

    stopped = runtime.stop_dyno(dyno.id, timeout=10)

    assert stopped.exit_code == 0
    assert stopped.state is DynoState.EXITED
    assert stopped.finished_at is not None


def test_stop_kills_a_dyno_that_ignores_sigterm_after_the_timeout(runtime: Runtime, apps: Apps) -> None:
    dyno = runtime.start_dyno(make_spec(apps.new(), IGNORES_TERM, process_type="worker"))
    time.sleep(0.5)

    began = time.monotonic()
    stopped = runtime.stop_dyno(dyno.id, timeout=1)

    assert time.monotonic() - began >= 0.9
    assert stopped.exit_code == EXIT_CODE_KILLED
    assert stopped.state is DynoState.CRASHED


def test_dynos_are_listed_by_label(runtime: Runtime, apps: Apps) -> None:
    app, other_app = apps.new(), apps.new()
    runtime.start_dyno(make_spec(app, WEB, number=1))
    runtime.start_dyno(make_spec(app, WEB, number=2, labels={"wharf.deploy": "blue"}))
    runtime.start_dyno(make_spec(app, TRAPS_TERM, process_type="worker", release=2))
    runtime.start_dyno(make_spec(other_app, WEB))

    assert [d.name for d in runtime.list_dynos(app)] == [f"{app}.web.1", f"{app}.web.2", f"{app}.worker.1"]
    assert [d.number for d in runtime.list_dynos(app, process_type="web")] == [1, 2]
    assert [d.dyno for d in runtime.list_dynos(app, release=2)] == ["worker.1"]
    assert [d.dyno for d in runtime.list_dynos(app, labels={"wharf.deploy": "blue"})] == ["web.2"]
    assert [d.name for d in runtime.list_dynos(other_app)] == [f"{other_app}.web.1"]
    assert {d.app for d in runtime.list_dynos()} >= {app, other_app}


def test_oneoff_returns_the_exit_code_and_streams_output(runtime: Runtime, apps: Apps) -> None:
    app = apps.new()
    output = bytearray()

    exit_code = runtime.run_oneoff(
        make_spec(app, ONEOFF_EXIT_3, process_type="run", number=42), on_output=output.extend
    )

    assert exit_code == 3
    assert b"hello from a one-off" in output
    assert runtime.list_dynos(app) == []


def test_a_dyno_whose_process_fails_shows_crashed_with_its_exit_code(runtime: Runtime, apps: Apps) -> None:
    dyno = runtime.start_dyno(make_spec(apps.new(), CRASHES))

    assert runtime.wait(dyno.id, timeout=10) == 2
    crashed = runtime.get_dyno(dyno.id)
    assert crashed.state is DynoState.CRASHED
    assert crashed.exit_code == 2


def test_wait_times_out_while_the_dyno_runs(runtime: Runtime, apps: Apps) -> None:
    dyno = runtime.start_dyno(make_spec(apps.new(), WEB))

    with pytest.raises(TimeoutError):
        runtime.wait(dyno.id, timeout=0.5)
    assert runtime.get_dyno(dyno.id).state is DynoState.UP


def test_events_report_start_and_exit(runtime: Runtime, apps: Apps) -> None:
    app = apps.new()
    since = time.time() - 1

    dyno = runtime.start_dyno(make_spec(app, CRASHES))
    runtime.wait(dyno.id, timeout=10)

    seen = []
    for event in runtime.events(since=since, timeout=5):
        if event.dyno_id == dyno.id:
            seen.append(event)
        if event.action is EventAction.DIE and event.dyno_id == dyno.id:
            break
    assert [e.action for e in seen] == [EventAction.START, EventAction.DIE]
    assert seen[-1].exit_code == 2
    assert (seen[-1].app, seen[-1].process_type, seen[-1].number, seen[-1].release) == (app, "web", 1, 1)


def test_events_end_once_the_timeout_passes(runtime: Runtime) -> None:
    began = time.monotonic()
    for _ in runtime.events(timeout=1):
        pass
    assert 0.9 <= time.monotonic() - began < 30


def test_removed_dynos_are_gone_and_removing_twice_is_harmless(runtime: Runtime, apps: Apps) -> None:
    app = apps.new()
    dyno = runtime.start_dyno(make_spec(app, WEB))

    runtime.remove_dyno(dyno.id)
    runtime.remove_dyno(dyno.id)

    assert runtime.list_dynos(app) == []
    with pytest.raises(DynoNotFound):
        runtime.get_dyno(dyno.id)
    with pytest.raises(DynoNotFound):
        runtime.stop_dyno(dyno.id)


def test_app_networks_are_explicit_idempotent_and_guarded(runtime: Runtime, apps: Apps) -> None:
    app = apps.new()
    assert runtime.ensure_network(app) == network_name(app) == f"wharf-app-{app}"
    with pytest.raises(NetworkNotFound):
        runtime.start_dyno(make_spec("rt-no-network", WEB))

    dyno = runtime.start_dyno(make_spec(app, WEB))
    with pytest.raises(NetworkInUse):
        runtime.remove_network(app)

    runtime.remove_dyno(dyno.id)
    runtime.remove_network(app)
    runtime.remove_network(app)


def test_events_include_what_happens_between_the_call_and_the_first_read(
    runtime: Runtime, apps: Apps
) -> None:
    app = apps.new()
    events = runtime.events(timeout=5)

    dyno = runtime.start_dyno(make_spec(app, CRASHES))
    runtime.wait(dyno.id, timeout=10)

    for event in events:
        if event.dyno_id == dyno.id and event.action is EventAction.DIE:
            assert event.exit_code == 2
            return
    pytest.fail("the dyno's exit was not reported")
