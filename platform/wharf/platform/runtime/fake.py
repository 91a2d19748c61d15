"""An in-memory Runtime for fast unit tests of the scheduler.

It keeps the same state machine, labels, networks, exit codes and events as the Docker runtime and
passes the same contract tests. The fake cannot run commands, so a `FakeProgram` chosen per spec
says how the process behaves: exit at once, serve HTTP, honour or ignore SIGTERM. Web dynos that
serve HTTP answer on a real loopback port, so health checks and routing can be tested against them.
"""

from __future__ import annotations

import itertools
import secrets
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from wharf.platform.runtime.base import (
    DEFAULT_STOP_TIMEOUT,
    EXIT_CODE_KILLED,
    EXIT_CODE_TERMINATED,
    Dyno,
    DynoEvent,
    DynoNotFound,
    DynoSpec,
    DynoState,
    EventAction,
    ImageNotFound,
    NetworkInUse,
    NetworkNotFound,
    OutputCallback,
    event_from_labels,
    label_filters,
    network_name,
)


@dataclass(frozen=True)
class FakeProgram:
    """How a fake dyno's process behaves, standing in for the command the fake cannot run.

    `exit_code` set: the process ends at once with it. `term_exit_code` None: SIGTERM is ignored
    and the stop escalates to SIGKILL after its timeout.
    """

    exit_code: int | None = None
    term_exit_code: int | None = EXIT_CODE_TERMINATED
    serves_http: bool = False
    output: bytes = b""


ProgramChooser = Callable[[DynoSpec], FakeProgram]


def _runs_until_stopped(spec: DynoSpec) -> FakeProgram:
    return FakeProgram()


@dataclass
class _FakeDyno:
    id: str
    spec: DynoSpec
    program: FakeProgram
    ip: str
    started_at: datetime
    state: DynoState = DynoState.UP
    finished_at: datetime | None = None
    exit_code: int | None = None
    server: ThreadingHTTPServer | None = None
    exited: threading.Event = field(default_factory=threading.Event)

    def snapshot(self) -> Dyno:
        address: tuple[str, int] | None = None
        if self.state is DynoState.UP:
            address = (self.ip, self.spec.port)
            if self.server is not None:
                address = ("127.0.0.1", self.server.server_address[1])
        return Dyno(
            id=self.id,
            app=self.spec.app,
            process_type=self.spec.process_type,
            number=self.spec.number,
            release=self.spec.release,
            state=self.state,
            command=self.spec.command_text,
            size=self.spec.size,
            started_at=self.started_at,
            finished_at=self.finished_at,
            exit_code=self.exit_code,
            address=address,
            labels=self.spec.all_labels(),
        )


class FakeRuntime:
    """A Runtime that keeps dynos in memory; `crash()` lets tests end a process at a chosen moment."""

    def __init__(
        self,
        program_for: ProgramChooser = _runs_until_stopped,
        *,
        images: Collection[str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._program_for = program_for
        self._images = None if images is None else set(images)
        self._sleep = sleep
        self._changed = threading.Condition(threading.RLock())
        self._networks: dict[str, int] = {}
        self._dynos: dict[str, _FakeDyno] = {}
        self._events: list[DynoEvent] = []
        self._addresses = itertools.count(2)

    # networks

    def ensure_network(self, app: str) -> str:
        name = network_name(app)
        with self._changed:
            self._networks.setdefault(name, len(self._networks) + 1)
        return name

    def remove_network(self, app: str) -> None:
        name = network_name(app)
        with self._changed:
            if any(d.spec.network_name == name and d.exit_code is None for d in self._dynos.values()):
                raise NetworkInUse(f"{name} still has containers attached")
            self._networks.pop(name, None)

    # dynos

    def start_dyno(self, spec: DynoSpec) -> Dyno:
        program = self._program_for(spec)
        with self._changed:
            if self._images is not None and spec.image not in self._images:
                raise ImageNotFound(spec.image)
            if spec.network_name not in self._networks:
                raise NetworkNotFound(spec.network_name)
            record = _FakeDyno(
                id=secrets.token_hex(32),
                spec=spec,
                program=program,
                ip=self._next_ip(spec.network_name),
                started_at=datetime.now(UTC),
            )
            if program.serves_http and program.exit_code is None:
                record.server = _serve_http(spec.dyno)
            self._dynos[record.id] = record
            self._record_event(record, EventAction.START)
            if program.exit_code is not None:
                self._exit(record, program.exit_code)
            return record.snapshot()

    def get_dyno(self, dyno_id: str) -> Dyno:
        with self._changed:
            return self._record(dyno_id).snapshot()

    def list_dynos(
        self,
        app: str | None = None,
        *,
        process_type: str | None = None,
        release: int | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> list[Dyno]:
        wanted = label_filters(app, process_type, release, labels).items()
        with self._changed:
            dynos = [r.snapshot() for r in self._dynos.values() if wanted <= r.spec.all_labels().items()]
        return sorted(dynos, key=lambda d: (d.app, d.process_type, d.number, d.release, d.id))

    def stop_dyno(self, dyno_id: str, timeout: float = DEFAULT_STOP_TIMEOUT) -> Dyno:
        with self._changed:
            record = self._record(dyno_id)
            term_exit_code = record.program.term_exit_code
        if record.exit_code is None and term_exit_code is None:
            self._sleep(timeout)
        with self._changed:
            if record.exit_code is None:
                self._exit(record, EXIT_CODE_KILLED if term_exit_code is None else term_exit_code)
            return record.snapshot()

    def remove_dyno(self, dyno_id: str) -> None:
        with self._changed:
            record = self._dynos.get(dyno_id)
            if record is None:
                return
            if record.exit_code is None:
                self._exit(record, EXIT_CODE_KILLED)
            del self._dynos[dyno_id]

    def wait(self, dyno_id: str, timeout: float | None = None) -> int:
        with self._changed:
            record = self._record(dyno_id)
        if not record.exited.wait(timeout):
            raise TimeoutError(f"dyno {dyno_id} still running after {timeout} s")
        assert record.exit_code is not None
        return record.exit_code

    def run_oneoff(
        self, spec: DynoSpec, *, on_output: OutputCallback | None = None, timeout: float | None = None
    ) -> int:
        dyno = self.start_dyno(spec)
        try:
            program = self._record(dyno.id).program
            if on_output is not None and program.output:
                on_output(program.output)
            try:
                return self.wait(dyno.id, timeout)
            except TimeoutError:
                return self.stop_dyno(dyno.id, timeout=10).exit_code or 0
        finally:
            self.remove_dyno(dyno.id)

    def events(self, *, since: float | None = None, timeout: float | None = None) -> Iterator[DynoEvent]:
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._changed:
            if since is None:
                cursor = len(self._events)
            else:
                cursor = next((i for i, e in enumerate(self._events) if e.time >= since), len(self._events))
        return self._follow_events(cursor, deadline)

    def _follow_events(self, cursor: int, deadline: float | None) -> Iterator[DynoEvent]:
        while True:
            with self._changed:
                while cursor >= len(self._events):
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        return
                    self._changed.wait(remaining)
                batch = self._events[cursor:]
                cursor = len(self._events)
            yield from batch

    # test controls

    def crash(self, dyno_id: str, exit_code: int = 1) -> Dyno:
        """End a running dyno's process as if it had exited on its own."""
        with self._changed:
            record = self._record(dyno_id)
            if record.exit_code is None:
                self._exit(record, exit_code)
            return record.snapshot()

    def replace_program(self, program_for: ProgramChooser) -> None:
        """Change how dynos started from now on behave (for example: the next release crashes)."""
        self._program_for = program_for

    # helpers

    def _record(self, dyno_id: str) -> _FakeDyno:
        try:
            return self._dynos[dyno_id]
        except KeyError:
            raise DynoNotFound(dyno_id) from None

    def _next_ip(self, network: str) -> str:
        host = next(self._addresses)
        return f"10.{self._networks[network]}.{host // 250}.{host % 250 + 2}"

    def _exit(self, record: _FakeDyno, exit_code: int) -> None:
        if record.server is not None:
            record.server.shutdown()
            record.server.server_close()
            record.server = None
        record.exit_code = exit_code
        record.state = DynoState.after_exit(exit_code)
        record.finished_at = datetime.now(UTC)
        record.exited.set()
        self._record_event(record, EventAction.DIE)

    def _record_event(self, record: _FakeDyno, action: EventAction) -> None:
        labels = record.spec.all_labels()
        exit_code = record.exit_code if action is EventAction.DIE else None
        self._events.append(event_from_labels(action, record.id, labels, time.time(), exit_code))
        self._changed.notify_all()


def fake_runtime(*, installation: str | None = None) -> FakeRuntime:
    """A fresh in-memory runtime; its dynos are its own, so no installation needs telling apart."""
    return FakeRuntime()


class _DynoHandler(BaseHTTPRequestHandler):
    """Answers every GET with 200 and the dyno's name, as a minimal web process would."""

    dyno_name = ""

    def do_GET(self) -> None:
        body = f"{self.dyno_name}\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


def _serve_http(dyno_name: str) -> ThreadingHTTPServer:
    handler = type("DynoHandler", (_DynoHandler,), {"dyno_name": dyno_name})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name=f"fake-dyno-{dyno_name}", daemon=True).start()
    return server
