"""What an attached one-off prints to its standard output, read to its end once its input is ended."""

from __future__ import annotations

from wharf.platform.runtime.base import STDOUT, AttachedDyno


async def stdout_after_end_of_input(attached: AttachedDyno) -> bytes:
    await attached.open()
    try:
        await attached.close_stdin()
        output = bytearray()
        while chunk := await attached.read():
            if chunk[0] == STDOUT:
                output += chunk[1]
        return bytes(output)
    finally:
        await attached.close()
