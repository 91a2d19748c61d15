"""Is a dyno ready for traffic: it accepts TCP connections on $PORT, and passes its app.json checks."""

from __future__ import annotations

import http.client
import socket

from wharf.platform.app_manifest import HealthCheck

PROBE_TIMEOUT = 1.0
# How much of a response body a check searches for its `content`.
MAX_CHECKED_BYTES = 1024 * 1024


def probe(
    address: tuple[str, int] | None,
    path: str | None = None,
    timeout: float = PROBE_TIMEOUT,
    content: str = "",
) -> bool:
    if address is None:
        return False
    if path is None:
        try:
            with socket.create_connection(address, timeout=timeout):
                return True
        except OSError:
            return False
    return check_failure(address, HealthCheck(path=path, content=content, timeout=timeout)) is None


def check_failure(address: tuple[str, int] | None, check: HealthCheck) -> str | None:
    """None when one attempt of `check` passes; otherwise why it did not, for the deploy output."""
    if address is None:
        return "the dyno has no address"
    connection = http.client.HTTPConnection(*address, timeout=check.timeout)
    try:
        connection.request("GET", check.path, headers={"User-Agent": "wharf-health-check"})
        response = connection.getresponse()
        body = response.read(MAX_CHECKED_BYTES) if check.content else b""
    except TimeoutError:
        return f"no answer within {check.timeout:g} s"
    except (OSError, http.client.HTTPException) as error:
        return f"{type(error).__name__}: {error}".rstrip(": ")
    finally:
        connection.close()
    if not 200 <= response.status < 400:
        return f"HTTP {response.status}"
    if check.content and check.content.encode() not in body:
        return f"the response does not contain {check.content!r}"
    return None
