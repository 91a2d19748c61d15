"""A step of load through the router: CLIENTS closed-loop clients, each sending its next request as soon
as the last one answered, every request timed by the client (a plain connection per request, so what is
timed is the request through the router, not a client library's setup)."""

from __future__ import annotations

import http.client
import math
import threading
import time
from collections import deque
from dataclasses import dataclass, field

KEPT = 100_000  # answers remembered: minutes of load at the rates a test sends


@dataclass(frozen=True)
class Answer:
    finished: float  # time.monotonic()
    milliseconds: float
    status: int  # 0: no answer (a connection error or a timeout)


def nearest_rank(values: list[float], quantile: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(quantile * len(ordered)) - 1)]


@dataclass
class LoadStep:
    address: str
    port: int
    host: str
    clients: int
    path: str = "/"
    answers: deque[Answer] = field(default_factory=lambda: deque(maxlen=KEPT))
    started: float | None = None
    stopped: float | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        self.started = time.monotonic()
        for _ in range(self.clients):
            thread = threading.Thread(target=self._client, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)
        self.stopped = time.monotonic()

    def _client(self) -> None:
        while not self._stop.is_set():
            self.answers.append(self._one())

    def _one(self) -> Answer:
        connection = http.client.HTTPConnection(self.address, self.port, timeout=30)
        began = time.monotonic()
        status = 0
        try:
            connection.request("GET", self.path, headers={"Host": self.host})
            answer = connection.getresponse()
            answer.read()
            status = answer.status
        except OSError:
            time.sleep(0.1)  # a refused connection would otherwise spin
        finally:
            connection.close()
        finished = time.monotonic()
        return Answer(finished=finished, milliseconds=(finished - began) * 1000, status=status)

    def recent(self, seconds: float) -> list[Answer]:
        since = time.monotonic() - seconds
        return [answer for answer in list(self.answers) if answer.finished >= since]

    def p95_ms(self, seconds: float, least: int = 20) -> float | None:
        """p95 of the 200 answers of the last SECONDS (None with fewer than LEAST of them)."""
        recent = [answer.milliseconds for answer in self.recent(seconds) if answer.status == 200]
        return nearest_rank(recent, 0.95) if len(recent) >= least else None

    def failures(self) -> int:
        return sum(1 for answer in self.answers if answer.status != 200)
