"""The ports `wharfd up` listens on, checked before it starts anything.

A component whose port another program holds cannot start: the supervisor would start it again and
again, and `wharfd status` would stay CRITICAL with nothing telling the operator why. So `wharfd up`
tries each port first (as the component binds it) and refuses to start while one is taken, naming the
setting that moves it and, where /proc tells, the process that holds it. A port freed a moment ago
(an earlier run still closing) gets a few seconds to come free.

The router's HTTP and HTTPS ports are not checked: the nginx an earlier run left there is adopted.
"""

from __future__ import annotations

import errno
import os
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from wharf.platform.settings import Settings

TCP, UDP = "tcp", "udp"
_TCP_LISTEN = "0A"
# How long a taken port may take to come free (an earlier run's component still exiting).
SETTLE_SECONDS = 10.0


@dataclass(frozen=True)
class PortClaim:
    """One listener of `wharfd up`: what binds it, on which address and port, and the setting."""

    component: str
    variable: str
    protocol: str
    host: str
    port: int

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}/{self.protocol}"


@dataclass(frozen=True)
class TakenPort:
    """A claim that cannot bind: taken (by `holder`, where known), or refused for `reason`."""

    claim: PortClaim
    holder: str | None = None
    reason: str | None = None

    def describe(self) -> str:
        where = f"{self.claim.component} cannot listen on {self.claim.where}"
        if self.reason is not None:
            return f"{where}: {self.reason}. Set {self.claim.variable} to a port this host can bind."
        held = f" by {self.holder}" if self.holder else " by another program"
        return f"{where}: it is taken{held}. Stop that program, or set {self.claim.variable} to a free port."


class PortsTaken(RuntimeError):
    def __init__(self, taken: list[TakenPort]) -> None:
        self.taken = taken
        super().__init__("\n".join(t.describe() for t in taken))


def claims_of(settings: Settings) -> list[PortClaim]:
    """The listeners `wharfd up` starts with these settings (0 or off: none)."""
    claims = [PortClaim("the API", "WHARF_API_PORT", TCP, settings.wharf_api_host, settings.wharf_api_port)]
    if settings.wharf_ssh_enabled:
        claims.append(
            PortClaim("SSH git", "WHARF_SSH_PORT", TCP, settings.wharf_ssh_host, settings.wharf_ssh_port)
        )
    claims.append(PortClaim("the waker", "WHARF_WAKER_PORT", TCP, "127.0.0.1", settings.wharf_waker_port))
    if settings.wharf_statsd_port:
        claims.append(
            PortClaim(
                "statsd", "WHARF_STATSD_PORT", UDP, settings.wharf_statsd_bind, settings.wharf_statsd_port
            )
        )
    return claims


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def bind_error(claim: PortClaim) -> OSError | None:
    """Why the component could not bind its port now (with SO_REUSEADDR, as servers bind), or None."""
    kind = socket.SOCK_STREAM if claim.protocol == TCP else socket.SOCK_DGRAM
    try:
        with socket.socket(_family(claim.host), kind) as probe:
            if claim.protocol == TCP:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((claim.host, claim.port))
    except OSError as error:
        return error
    return None


def _socket_inodes(protocol: str, port: int, proc: Path) -> set[str]:
    """The inodes of this host's sockets bound to the port (TCP: listening ones), from /proc/net."""
    inodes: set[str] = set()
    for table in (protocol, protocol + "6"):
        try:
            lines = (proc / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 10:
                continue
            local, state, inode = fields[1], fields[3], fields[9]
            if int(local.rsplit(":", 1)[1], 16) != port or inode == "0":
                continue
            if protocol == TCP and state != _TCP_LISTEN:
                continue
            inodes.add(inode)
    return inodes


def holder_of(protocol: str, port: int, proc: Path = Path("/proc")) -> str | None:
    """'pid N (command line)' of a process holding the port, or None when /proc does not say."""
    wanted = {f"socket:[{inode}]" for inode in _socket_inodes(protocol, port, proc)}
    if not wanted:
        return None
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fds = list((entry / "fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target in wanted:
                return f"pid {entry.name} ({_command_line(entry)})"
    return None


def _command_line(entry: Path, limit: int = 120) -> str:
    try:
        raw = (entry / "cmdline").read_bytes()[:4096]
    except OSError:
        return "?"
    text = " ".join(part.decode(errors="replace") for part in raw.split(b"\0") if part)
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def check_ports(claims: Iterable[PortClaim], settle: float = SETTLE_SECONDS) -> None:
    """Raise `PortsTaken` naming every claim whose port stays taken for `settle` seconds."""
    pending = list(claims)
    refused: list[TakenPort] = []
    deadline = time.monotonic() + settle
    while True:
        taken: list[PortClaim] = []
        for claim in pending:
            error = bind_error(claim)
            if error is None:
                continue
            if error.errno == errno.EADDRINUSE:
                taken.append(claim)
            else:
                refused.append(TakenPort(claim, reason=error.strerror or str(error)))
        pending = taken
        if not pending or time.monotonic() >= deadline:
            break
        time.sleep(0.5)
    found = refused + [TakenPort(claim, holder_of(claim.protocol, claim.port)) for claim in pending]
    if found:
        raise PortsTaken(found)
