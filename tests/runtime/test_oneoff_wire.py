"""The request an API sends a node agent for an attached one-off, and where such a one-off runs."""

from __future__ import annotations

import asyncio
import json
import secrets
import time

import pytest

from tests.utils.busybox_dynos import make_spec
from wharf.platform.runtime import oneoff_wire as wire
from wharf.platform.runtime.oneoff_wire import BadRequest, OneOffRequest, requests_channel
from wharf.platform.runtime.placement import PlacementNode, attached_oneoff_node


def _request(**spec_overrides: object) -> OneOffRequest:
    spec = make_spec(
        "shop", ("bash", "-lc", "rails console"), process_type="run", number=4821, network="wharf-app-shop"
    )
    spec = spec.__class__(**{**spec.__dict__, "env": {"DATABASE_URL": "postgres://x"}, **spec_overrides})
    return OneOffRequest(session=secrets.token_hex(16), spec=spec, tty=True, rows=40, columns=120)


def test_a_request_comes_back_as_it_was_sent() -> None:
    request = _request()
    assert OneOffRequest.from_json(request.to_json()) == request


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("session", "../../etc", "session"),
        ("app", "Shop\n", "app"),
        ("process_type", "run;rm", "process_type"),
        ("user", "0:0", "root"),
        ("user", "root", "root"),
        ("size", "gigantic", "size"),
        ("image", "busybox latest", "image"),
        ("network", None, "network"),
        ("env", {"A": 1}, "env"),
    ],
)
def test_the_agent_refuses_a_request_that_is_not_what_the_api_sends(
    field: str, value: object, says: str
) -> None:
    data = json.loads(_request().to_json())
    if field == "session":
        data["session"] = value
    else:
        data["spec"][field] = value
    with pytest.raises(BadRequest, match=says):
        OneOffRequest.from_json(json.dumps(data).encode())


def test_a_request_that_is_too_large_or_not_json_is_refused() -> None:
    with pytest.raises(BadRequest):
        OneOffRequest.from_json(b"{" * (2 * 1024 * 1024))
    with pytest.raises(BadRequest):
        OneOffRequest.from_json(b"not json")
    with pytest.raises(BadRequest):
        requests_channel("node\n1")


MANAGER = PlacementNode("manager1", role="manager", labels={"wharf.role": "control-plane"})
WORKER_A = PlacementNode("workera", labels={"wharf.role": "web"})
WORKER_B = PlacementNode("workerb", labels={"wharf.role": "web"})


def test_an_attached_one_off_runs_on_the_manager_when_the_manager_may_take_it() -> None:
    nodes = [MANAGER, WORKER_A, WORKER_B]

    def unread() -> dict[str, int]:
        raise AssertionError("the dyno counts are read only when the manager may not take it")

    assert attached_oneoff_node(nodes, [], "manager1", unread) == MANAGER


def test_otherwise_on_the_fitting_node_that_runs_the_fewest_dynos() -> None:
    drained = PlacementNode("manager1", role="manager", availability="drain")
    down = PlacementNode("workerc", state="down")
    nodes = [drained, WORKER_A, WORKER_B, down]
    assert attached_oneoff_node(nodes, [], "manager1", lambda: {"workera": 3, "workerb": 1}) == WORKER_B
    web_only = ["node.labels.wharf.role==web"]
    assert (
        attached_oneoff_node([MANAGER, WORKER_A, WORKER_B], web_only, "manager1", lambda: {"workerb": 1})
        == WORKER_A
    )
    assert (
        attached_oneoff_node(
            [MANAGER, WORKER_A], ["node.role==manager", "node.hostname==x"], "manager1", dict
        )
        is None
    )


def test_a_heartbeat_beats_through_failures_and_stops_even_when_a_beat_swallows_its_cancellation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """redis-py turns a cancellation inside a command into a ConnectionError; a session's end must
    still stop its heartbeat, or the session's close never returns."""
    monkeypatch.setattr(wire, "HEARTBEAT_SECONDS", 0.01)
    beats = 0
    released = False  # after the verdict, so a heartbeat that did not stop cannot hang the test

    async def beat() -> None:
        nonlocal beats
        beats += 1
        if beats < 3 or released:
            raise ConnectionError("redis went away")
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            raise ConnectionError("Connection closed by server.") from None

    async def session() -> tuple[float, bool, int]:
        ended = asyncio.Event()
        task = asyncio.create_task(wire.heartbeat(beat, ended))
        while beats < 3:
            await asyncio.sleep(0.01)
        started = time.monotonic()
        await wire.stop_heartbeat(task, ended)
        verdict = time.monotonic() - started, task.done(), beats
        nonlocal released
        released = True
        if not task.done():
            task.cancel()
            raise AssertionError(f"the heartbeat was still beating after its session ended ({beats} beats)")
        return verdict

    took, done, beaten = asyncio.run(session())
    assert done and took < 1.0, f"the heartbeat was still beating {took:.1f} s after its session ended"
    assert beaten == 3
