"""Running Python code inside a test host's network namespace, in this process.

A thread that calls setns(2) moves only itself into the namespace, and every thread it starts is
born there: code run this way reaches the test host's container addresses as its own engine does,
while the rest of the test process stays on the host's network. Sockets opened before the move
keep their namespace, so such code reaches Redis by a unix socket, not the host's loopback.
"""

from __future__ import annotations

import ctypes
import os
import threading
from collections.abc import Callable
from typing import TypeVar

CLONE_NEWNET = 0x40000000
T = TypeVar("T")


def run_in_netns(namespace: str, work: Callable[[], T]) -> T:
    """`work()` run in a thread inside network namespace `namespace` (/run/netns/NAME); its result,
    or its exception raised here."""
    outcome: dict[str, object] = {}

    def body() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        fd = os.open(f"/run/netns/{namespace}", os.O_RDONLY)
        try:
            if libc.setns(fd, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), f"setns into {namespace}")
        finally:
            os.close(fd)
        try:
            outcome["value"] = work()
        except BaseException as error:
            outcome["error"] = error

    thread = threading.Thread(target=body, name=f"netns-{namespace}")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]
