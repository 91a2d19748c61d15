"""A one-off Swarm service's output, relayed to a callback while it runs (`run_oneoff`)."""

from __future__ import annotations

import contextlib
import threading
import time

import docker
import docker.errors

from wharf.platform.runtime.base import OutputCallback

# How long a one-off's last output may take to reach its log once the task has ended.
LOG_SETTLE_SECONDS = 1.0


class ServiceLogRelay:
    """Streams a one-off service's output to a callback while it runs, with nothing lost at the end.

    Swarm's followed service log does not end when the task does, so once the task has ended the
    relay stops following and reads the whole log once more, passing on only what it has not yet.
    """

    def __init__(self, client: docker.DockerClient, service_id: str, on_output: OutputCallback) -> None:
        self._client = client
        self._service_id = service_id
        self._on_output = on_output
        self._delivered = 0
        self._lock = threading.Lock()
        self._finished = False
        self._thread = threading.Thread(target=self._follow, name=f"logs-{service_id[:12]}", daemon=True)
        self._thread.start()

    def _follow(self) -> None:
        with contextlib.suppress(docker.errors.APIError, OSError, ValueError):
            for chunk in self._client.api.service_logs(
                self._service_id, follow=True, stdout=True, stderr=True
            ):
                with self._lock:
                    if self._finished:
                        return
                    self._delivered += len(chunk)
                    self._on_output(chunk)

    def finish(self) -> None:
        time.sleep(LOG_SETTLE_SECONDS)
        whole = bytearray()
        with contextlib.suppress(docker.errors.APIError):
            for chunk in self._client.api.service_logs(self._service_id, stdout=True, stderr=True):
                whole.extend(chunk)
        with self._lock:
            self._finished = True
            if len(whole) > self._delivered:
                self._on_output(bytes(whole[self._delivered :]))
