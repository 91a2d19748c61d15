"""A client attached to a one-off Docker dyno over the engine's raw attach connection.

With a TTY the connection carries the terminal's bytes as they are. Without one, Docker frames each
write with an 8-byte header (stream, three zero bytes, big-endian length), which `FrameDecoder`
takes apart so that stdout and stderr stay separate. The connection is served by the event loop
(`open`), so a session waiting on a quiet dyno or a slow client holds no thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from typing import Any

import docker
import docker.errors
import requests.exceptions
from docker.models.containers import Container

from wharf.platform.runtime.base import LABEL_DYNO, LABEL_PROCESS_TYPE, STDERR, STDOUT, OutputChunk

READ_CHUNK = 262144
FRAME_HEADER = 8
REMOVE_ATTEMPTS = 4
# The terminal's end-of-file character (VEOF): a reader of the TTY sees end of input.
TTY_END_OF_INPUT = b"\x04"


class FrameDecoder:
    """Docker's multiplexed stream, fed in pieces; consecutive frames of one stream come out joined."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> None:
        self._buffer += data

    def next_chunk(self, limit: int = READ_CHUNK) -> OutputChunk | None:
        """The next complete output, up to about `limit` bytes of one stream; None until a frame is whole."""
        stream: int | None = None
        parts: list[bytes] = []
        taken = offset = 0
        buffer = self._buffer
        while len(buffer) - offset >= FRAME_HEADER and taken < limit:
            kind = buffer[offset]
            size = int.from_bytes(buffer[offset + 4 : offset + FRAME_HEADER], "big")
            end = offset + FRAME_HEADER + size
            if len(buffer) < end:
                break
            if kind in (STDOUT, STDERR):
                if stream is not None and kind != stream:
                    break
                stream = kind
                parts.append(bytes(buffer[offset + FRAME_HEADER : end]))
                taken += size
            offset = end
        del buffer[:offset]
        if stream is None:
            return None
        return stream, b"".join(parts)


class DockerAttachedDyno:
    def __init__(self, client: docker.DockerClient, container: Container, *, tty: bool) -> None:
        self._client = client
        self._container = container
        self.id = container.id or ""
        labels = container.labels
        self.name = f"{labels.get(LABEL_PROCESS_TYPE, 'run')}.{labels.get(LABEL_DYNO, '')}"
        self.tty = tty
        params = {"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}
        attached: Any = self._client.api.attach_socket(self.id, params=params)
        self._socket: socket.socket = attached._sock
        self._attached = attached
        self._decoder = FrameDecoder()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(sock=self._socket, limit=READ_CHUNK)

    async def read(self) -> OutputChunk | None:
        assert self._reader is not None, "open() first"
        while True:
            if not self.tty and (chunk := self._decoder.next_chunk()) is not None:
                return chunk
            try:
                data = await self._reader.read(READ_CHUNK)
            except OSError:
                return None
            if not data:
                return None
            if self.tty:
                return STDOUT, data
            self._decoder.feed(data)

    async def write(self, data: bytes) -> None:
        assert self._writer is not None, "open() first"
        if self._writer.is_closing():
            return
        try:
            self._writer.write(data)
            await self._writer.drain()
        except OSError:
            return

    async def close_stdin(self) -> None:
        """End of input.

        With a TTY, as a terminal says it: Ctrl-D. (Half-closing the attach connection would make Docker
        end the whole attach session there, and output the command writes after that would be lost.)
        Without one, the connection is half-closed: the container was created with `StdinOnce`, so Docker
        closes the process's standard input and keeps streaming its output.
        """
        if self.tty:
            await self.write(TTY_END_OF_INPUT)
            return
        assert self._writer is not None, "open() first"
        with contextlib.suppress(OSError):
            await self._writer.drain()
            if self._writer.can_write_eof():
                self._writer.write_eof()

    async def close(self) -> None:
        if self._writer is None:
            self._socket.close()
            return
        self._writer.close()
        with contextlib.suppress(OSError):
            await self._writer.wait_closed()

    def resize(self, rows: int, columns: int) -> None:
        if not self.tty:
            return
        try:
            self._client.api.resize(self.id, height=rows, width=columns)
        except docker.errors.APIError:
            return

    def wait(self) -> int:
        return int(self._container.wait()["StatusCode"])

    def remove(self, attempts: int = REMOVE_ATTEMPTS) -> None:
        """Kill and remove the dyno, trying again while a loaded engine fails or times out."""
        for attempt in range(1, attempts + 1):
            try:
                self._container.remove(force=True, v=True)
                return
            except docker.errors.NotFound:
                return
            except (docker.errors.APIError, requests.exceptions.RequestException):
                if attempt == attempts:
                    raise
                time.sleep(attempt)
