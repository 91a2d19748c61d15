"""Sending batches of log lines to one drain: syslog over TCP or TLS, or HTTPS POSTs.

A drain URL is the user's, so by default it may not reach loopback, private or link-local
addresses (the platform's own Redis, the cloud metadata service): the operator can allow that with
WHARF_LOG_DRAIN_ALLOW_PRIVATE.
"""

from __future__ import annotations

import ipaddress
import select
import socket
import ssl
from collections.abc import Sequence
from typing import Protocol

import httpx

from wharf.platform.logs.drains import DrainSpec, DrainTarget, parse_drain_url
from wharf.platform.logs.stream import LogLine
from wharf.platform.logs.syslog import frames, logplex_headers


class DrainUnavailable(Exception):
    """The batch was not delivered; the worker keeps it and tries again later."""


class Transport(Protocol):
    def send(self, batch: Sequence[LogLine]) -> None: ...

    def close(self) -> None: ...


def check_address(host: str, port: int, *, allow_private: bool) -> list[tuple[str, int]]:
    """Resolve the drain's host; DrainUnavailable when it resolves to an internal address."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise DrainUnavailable(f"cannot resolve {host}: {error}") from error
    addresses = [(str(info[4][0]), port) for info in infos]
    if not allow_private:
        for address, _ in addresses:
            ip = ipaddress.ip_address(address)
            if not ip.is_global or ip.is_multicast:
                raise DrainUnavailable(
                    f"{host} resolves to {address}, an internal address drains may not reach"
                )
    return addresses


class SyslogTransport:
    """RFC 5424 over TCP (or TLS) with octet-counting frames, on one kept-open connection."""

    def __init__(
        self,
        target: DrainTarget,
        *,
        allow_private: bool,
        ssl_context: ssl.SSLContext | None = None,
        timeout: float = 5.0,
    ) -> None:
        self.target = target
        self.allow_private = allow_private
        self.timeout = timeout
        self.ssl_context = ssl_context
        if target.scheme == "syslog+tls" and ssl_context is None:
            self.ssl_context = ssl.create_default_context()
        self._socket: socket.socket | None = None

    def send(self, batch: Sequence[LogLine]) -> None:
        payload = frames(batch)
        try:
            connection = self._connection()
            connection.sendall(payload)
        except OSError as error:
            self.close()
            raise DrainUnavailable(f"{self.target.safe_url}: {error}") from error

    def _connection(self) -> socket.socket:
        if self._socket is not None and _peer_closed(self._socket):
            self.close()
        if self._socket is None:
            address = check_address(self.target.host, self.target.port, allow_private=self.allow_private)[0]
            raw = socket.create_connection(address, timeout=self.timeout)
            if self.ssl_context is not None:
                raw = self.ssl_context.wrap_socket(raw, server_hostname=self.target.host)
            self._socket = raw
        return self._socket

    def close(self) -> None:
        if self._socket is not None:
            try:
                self._socket.close()
            finally:
                self._socket = None


def _peer_closed(sock: socket.socket) -> bool:
    """Whether the receiver hung up: TCP would otherwise accept one more batch and lose it."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        if not readable:
            return False
        return sock.recv(1, socket.MSG_PEEK) == b""
    except (OSError, ValueError):
        return True


def pinned_url(url: str, address: str) -> httpx.URL:
    """``url`` with its host replaced by the address that was checked, so nothing resolves it again.

    Resolving twice would let a drain's DNS answer a public address to the check and then an
    internal one (the platform's Redis, the metadata service) to the connection: DNS rebinding.
    """
    return httpx.URL(url).copy_with(host=address)


def host_header(target: DrainTarget) -> str:
    default = 443 if target.scheme == "https" else 80
    host = f"[{target.host}]" if ":" in target.host else target.host
    return host if target.port == default else f"{host}:{target.port}"


class HttpsTransport:
    """Heroku Logplex-style HTTPS batches: octet-counted RFC 5424 frames in one POST body."""

    def __init__(
        self,
        target: DrainTarget,
        token: str,
        *,
        allow_private: bool,
        ssl_context: ssl.SSLContext | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.target = target
        self.token = token
        self.allow_private = allow_private
        verify: ssl.SSLContext | bool = ssl_context if ssl_context is not None else True
        self._client = httpx.Client(timeout=timeout, verify=verify, follow_redirects=False)

    def send(self, batch: Sequence[LogLine]) -> None:
        address, _ = check_address(self.target.host, self.target.port, allow_private=self.allow_private)[0]
        try:
            response = self._client.post(
                pinned_url(self.target.url, address),
                content=frames(batch),
                headers={**logplex_headers(len(batch), self.token), "Host": host_header(self.target)},
                # TLS still names and verifies the drain's own hostname.
                extensions={"sni_hostname": self.target.host},
            )
        except httpx.HTTPError as error:
            raise DrainUnavailable(f"{self.target.safe_url}: {error}") from error
        if not 200 <= response.status_code < 300:
            raise DrainUnavailable(f"{self.target.safe_url} answered {response.status_code}")

    def close(self) -> None:
        self._client.close()


def transport_for(
    drain: DrainSpec, *, allow_private: bool, ssl_context: ssl.SSLContext | None = None
) -> Transport:
    target = parse_drain_url(drain.url)
    if target.is_syslog:
        return SyslogTransport(target, allow_private=allow_private, ssl_context=ssl_context)
    return HttpsTransport(target, drain.token, allow_private=allow_private, ssl_context=ssl_context)
