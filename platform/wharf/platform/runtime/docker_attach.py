"""A terminal attached to a one-off Docker dyno: the raw attach socket, with a TTY (no stream framing)."""

from __future__ import annotations

import socket
from typing import Any

import docker
import docker.errors
from docker.models.containers import Container

READ_CHUNK = 16384
# The terminal's end-of-file character (VEOF): a reader of the TTY sees end of input.
TTY_END_OF_INPUT = b"\x04"


class DockerAttachedDyno:
    def __init__(self, client: docker.DockerClient, container: Container) -> None:
        self._client = client
        self._container = container
        self.id = container.id or ""
        params = {"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}
        attached: Any = client.api.attach_socket(self.id, params=params)
        self._socket: socket.socket = attached._sock
        self._attached = attached

    def read(self) -> bytes:
        try:
            return self._socket.recv(READ_CHUNK)
        except OSError:
            return b""

    def write(self, data: bytes) -> None:
        try:
            self._socket.sendall(data)
        except OSError:
            return

    def close_stdin(self) -> None:
        """End of input, as a terminal says it: Ctrl-D to the dyno's TTY.

        Half-closing the attach socket instead makes Docker end the whole attach session, and output
        the command writes after that (all of it, for a command that does not read its input) is lost.
        """
        self.write(TTY_END_OF_INPUT)

    def resize(self, rows: int, columns: int) -> None:
        try:
            self._client.api.resize(self.id, height=rows, width=columns)
        except docker.errors.APIError:
            return

    def wait(self) -> int:
        return int(self._container.wait()["StatusCode"])

    def remove(self) -> None:
        try:
            self._socket.close()
            self._container.remove(force=True, v=True)
        except docker.errors.NotFound:
            return
