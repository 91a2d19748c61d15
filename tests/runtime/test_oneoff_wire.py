"""The request an API sends a node agent for an attached one-off, and where such a one-off runs (the
node with room that fits its placement)."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Callable

import pytest

from tests.utils.busybox_dynos import make_spec
from wharf.platform.runtime import oneoff_wire as wire
from wharf.platform.runtime.base import GIB, MIB, Dyno, DynoState
from wharf.platform.runtime.node_room import (
    NodeLoad,
    Reserved,
    oneoff_memory_per_node,
    reserved_per_node,
)
from wharf.platform.runtime.oneoff_wire import BadRequest, OneOffRequest, requests_channel
from wharf.platform.runtime.placement import NoPlacement, PlacementNode, attached_oneoff_node


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


MANAGER = PlacementNode(
    "manager1", role="manager", labels={"wharf.role": "control-plane"}, memory_bytes=4 * GIB
)
WORKER_A = PlacementNode("workera", hostname="a", labels={"wharf.role": "web"}, memory_bytes=4 * GIB)
WORKER_B = PlacementNode("workerb", hostname="b", labels={"wharf.role": "web"}, memory_bytes=4 * GIB)
BASIC = 512 * MIB


def _load(dynos: dict[str, int] | None = None, taken: dict[str, int] | None = None) -> Callable[[], NodeLoad]:
    return lambda: NodeLoad(dynos=dynos or {}, memory_taken=taken or {})


def test_an_attached_one_off_runs_on_the_manager_when_the_manager_may_take_it() -> None:
    nodes = [MANAGER, WORKER_A, WORKER_B]
    busy_elsewhere = _load({"workera": 0, "workerb": 0, "manager1": 9}, {"manager1": 3 * GIB})
    assert attached_oneoff_node(nodes, [], "manager1", busy_elsewhere, BASIC) == MANAGER


def test_otherwise_on_the_fitting_node_that_runs_the_fewest_dynos() -> None:
    drained = PlacementNode("manager1", role="manager", availability="drain")
    down = PlacementNode("workerc", state="down")
    nodes = [drained, WORKER_A, WORKER_B, down]
    assert attached_oneoff_node(nodes, [], "manager1", _load({"workera": 3, "workerb": 1}), BASIC) == WORKER_B
    web_only = ["node.labels.wharf.role==web"]
    fewest_on_b = _load({"workerb": 1})
    assert (
        attached_oneoff_node([MANAGER, WORKER_A, WORKER_B], web_only, "manager1", fewest_on_b, BASIC)
        == WORKER_A
    )
    with pytest.raises(NoPlacement, match="no node takes dynos and fits its placement"):
        attached_oneoff_node(
            [MANAGER, WORKER_A], ["node.role==manager", "node.hostname==x"], "manager1", _load(), BASIC
        )


def test_a_one_off_goes_where_its_memory_is_free_counting_what_swarm_does_not_know_of() -> None:
    nodes = [MANAGER, WORKER_A, WORKER_B]
    # The manager has 256 MB left once its tasks and one-offs are counted: a basic one-off goes to
    # the worker with room, even though it runs more dynos.
    taken = {"manager1": 4 * GIB - 256 * MIB, "workera": 4 * GIB - 600 * MIB, "workerb": 4 * GIB}
    assert attached_oneoff_node(nodes, [], "manager1", _load({"workera": 5}, taken), BASIC) == WORKER_A
    # A performance one-off (2 GB) fits nowhere, and the message says what is free where.
    with pytest.raises(NoPlacement) as refused:
        attached_oneoff_node(nodes, [], "manager1", _load(taken=taken), 2 * GIB)
    message = str(refused.value)
    assert "no node has the 2048 MB it needs free" in message
    assert "node manager1 256 MB" in message and "node workera (a) 600 MB" in message
    assert "add a node (wharfd nodes:add)" in message
    # A node whose engine did not say its memory is taken as having room.
    unknown = PlacementNode("workerc", hostname="c")
    assert attached_oneoff_node([MANAGER, unknown], [], "manager1", _load(taken=taken), BASIC) == unknown


def test_the_memory_taken_on_a_node_is_its_live_tasks_reservations_and_its_running_one_offs() -> None:
    def task(node: str, state: str, memory: int) -> dict[str, object]:
        reservations = {"MemoryBytes": memory, "NanoCPUs": 250_000_000}
        return {
            "NodeID": node,
            "Status": {"State": state},
            "Spec": {"Resources": {"Reservations": reservations}},
        }

    tasks = [task("n1", "running", BASIC), task("n1", "starting", BASIC), task("n1", "shutdown", BASIC)]
    tasks += [task("n2", "failed", GIB), {"NodeID": "n2", "Status": {"State": "running"}, "Spec": {}}]
    reserved = reserved_per_node(tasks)
    assert reserved["n1"] == Reserved(nano_cpus=500_000_000, memory_bytes=2 * BASIC)
    assert reserved["n2"] == Reserved(0, 0)

    def oneoff(node: str | None, size: str, exit_code: int | None = None) -> Dyno:
        return Dyno(
            id=secrets.token_hex(4), app="shop", process_type="run", number=1, release=1,
            state=DynoState.UP, command="bash", size=size, started_at=None, finished_at=None,
            exit_code=exit_code, address=None, labels={}, node=node,
        )  # fmt: skip

    oneoffs = [oneoff(None, "basic"), oneoff("n2", "performance"), oneoff("n2", "standard", exit_code=0)]
    assert oneoff_memory_per_node(oneoffs, own_node="n1") == {"n1": BASIC, "n2": 2 * GIB}


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
