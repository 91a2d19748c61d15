"""The client side of an attached one-off dyno (`wharf run`), over the API's WebSocket.

With a terminal, the dyno gets a TTY: keystrokes go as typed (raw mode, Ctrl-C included) and window
size changes follow. Without one, standard input streams raw until its end (then the dyno's stdin
closes), the dyno's stdout and stderr come back apart, and nothing is translated, so
`wharf run -- cat file > copy` copies the file byte for byte. See web/api/routes/run.py for the protocol.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

from wharf.cli import settings
from wharf.cli.errors import ApiError, WharfError

READ_CHUNK = 262144
# Chunks of input read ahead of the connection (at most 2 MiB).
INPUT_QUEUE = 8
STDOUT, STDERR = 1, 2
# What a shell reports for a command whose output reader went away (128 + SIGPIPE).
EXIT_BROKEN_PIPE = 141
EXIT_INTERRUPTED = 130


@contextlib.contextmanager
def raw_terminal(enabled: bool) -> Iterator[None]:
    """Keystrokes go to the dyno as typed (Ctrl-C included) while stdin is a terminal."""
    if not enabled or not sys.stdin.isatty():
        yield
        return
    import termios
    import tty

    saved = termios.tcgetattr(sys.stdin.fileno())
    tty.setraw(sys.stdin.fileno())
    try:
        yield
    finally:
        termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, saved)


def follow_resizes(connection: Any, enabled: bool) -> None:
    """Tell the dyno's TTY about every window size change of this terminal."""
    if not enabled or not hasattr(signal, "SIGWINCH"):
        return
    loop = asyncio.get_running_loop()

    async def send_size() -> None:
        columns, rows = shutil.get_terminal_size()
        with contextlib.suppress(Exception):
            await connection.send(json.dumps({"resize": [rows, columns]}))

    loop.add_signal_handler(signal.SIGWINCH, lambda: loop.create_task(send_size()))


def read_input(loop: asyncio.AbstractEventLoop, chunks: asyncio.Queue[bytes | None]) -> None:
    """Standard input into CHUNKS until its end (then None); blocks while the queue is full.

    A thread of its own, so that a full pipe in one direction never stops the other: the event loop
    keeps reading output while input waits to be sent.
    """
    fd = sys.stdin.fileno()
    try:
        while data := os.read(fd, READ_CHUNK):
            asyncio.run_coroutine_threadsafe(chunks.put(data), loop).result()
        asyncio.run_coroutine_threadsafe(chunks.put(None), loop).result()
    except (OSError, RuntimeError):
        return


async def send_input(connection: Any, chunks: asyncio.Queue[bytes | None]) -> None:
    while (data := await chunks.get()) is not None:
        await connection.send(data)
    await connection.send(json.dumps({"eof": True}))


class OutputWriter:
    """Writes output frames to this process's stdout and stderr, as they arrive."""

    def __init__(self, tty: bool) -> None:
        self.tty = tty
        self.targets = {STDOUT: sys.stdout.buffer, STDERR: sys.stderr.buffer}

    def write(self, frame: bytes) -> None:
        if self.tty:
            stream, data = STDOUT, frame
        else:
            stream, data = frame[0], frame[1:]
        target = self.targets.get(stream, self.targets[STDOUT])
        target.write(data)
        target.flush()


def _denied(error: Any) -> WharfError:
    """The API refused the session with an HTTP answer: its JSON error says why."""
    response = error.response
    try:
        body = json.loads(response.body or b"{}")
        return ApiError(response.status_code, str(body["id"]), str(body["message"]))
    except (ValueError, KeyError, TypeError):
        return WharfError(f"The API refused the session (HTTP {response.status_code}).")


def attach(url: str, token: str, first: dict[str, Any], *, on_started: Callable[[str], None]) -> int:
    """Run the session to its end and return the command's exit code."""
    try:
        return asyncio.run(_session(url, token, first, on_started))
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


async def _session(url: str, token: str, first: dict[str, Any], on_started: Callable[[str], None]) -> int:
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed, InvalidStatus

    tty = bool(first.get("tty"))
    writer = OutputWriter(tty)
    headers = {"Authorization": f"Bearer {token}"}
    # wss:// verifies like every CLI connection: the system store plus the root given to `wharf login --ca`.
    tls = settings.tls_context() if url.startswith("wss://") else None
    try:
        connection = await connect(url, additional_headers=headers, max_size=None, compression=None, ssl=tls)
    except InvalidStatus as error:
        raise _denied(error) from None
    async with connection:
        await connection.send(json.dumps(first))
        chunks: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=INPUT_QUEUE)
        reader = threading.Thread(target=read_input, args=(asyncio.get_running_loop(), chunks), daemon=True)
        sender = asyncio.create_task(send_input(connection, chunks))
        try:
            with raw_terminal(tty):
                follow_resizes(connection, tty)
                reader.start()
                async for message in connection:
                    if isinstance(message, bytes):
                        writer.write(message)
                        continue
                    control = json.loads(message)
                    if "dyno" in control:
                        on_started(str(control["dyno"]))
                    if "error" in control:
                        raise WharfError(str(control["error"]))
                    if "exit" in control:
                        return int(control["exit"])
        except ConnectionClosed:
            pass
        except BrokenPipeError:
            # The reader of our output went away (`wharf run ... | head`): end the dyno, quietly.
            _silence_stdout()
            return EXIT_BROKEN_PIPE
        finally:
            sender.cancel()
    raise WharfError("The connection to the dyno closed before the command finished.")


def _silence_stdout() -> None:
    """Python flushes stdout at exit; a closed pipe would make that print a traceback."""
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
