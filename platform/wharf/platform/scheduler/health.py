"""Is a dyno ready for traffic: it accepts TCP connections on $PORT, and answers a health path if set."""

from __future__ import annotations

import http.client
import socket

PROBE_TIMEOUT = 1.0


def probe(address: tuple[str, int] | None, path: str | None = None, timeout: float = PROBE_TIMEOUT) -> bool:
    if address is None:
        return False
    if path is None:
        try:
            with socket.create_connection(address, timeout=timeout):
                return True
        except OSError:
            return False
    connection = http.client.HTTPConnection(*address, timeout=timeout)
    try:
        connection.request("GET", path, headers={"User-Agent": "wharf-health-check"})
        status = connection.getresponse().status
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()
    return 200 <= status < 400
