"""The ports a Swarm node needs, checked before it joins: 2377/tcp and 7946/tcp on the manager answer
from here, and 7946/tcp+udp and 4789/udp are free on this host for the engine to take."""

from __future__ import annotations

import socket
from dataclasses import dataclass

MANAGER_PORTS = ((2377, "tcp"), (7946, "tcp"))
LOCAL_PORTS = ((7946, "tcp"), (7946, "udp"), (4789, "udp"))


@dataclass(frozen=True)
class PortCheck:
    port: int
    protocol: str
    where: str
    ok: bool
    detail: str

    def line(self) -> str:
        mark = "ok" if self.ok else "FAILED"
        return f"{self.port}/{self.protocol} {self.where}: {mark} ({self.detail})"


def check_ports(manager_host: str, *, timeout: float = 5.0) -> list[PortCheck]:
    checks = [_reaches(manager_host, port, timeout) for port, _ in MANAGER_PORTS]
    checks += [_free_here(port, protocol) for port, protocol in LOCAL_PORTS]
    return checks


def _reaches(host: str, port: int, timeout: float) -> PortCheck:
    where = f"on the manager {host}"
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return PortCheck(port, "tcp", where, True, "answers")
    except OSError as error:
        return PortCheck(port, "tcp", where, False, f"{error}; open it in the firewall between the nodes")


def _free_here(port: int, protocol: str) -> PortCheck:
    kind = socket.SOCK_STREAM if protocol == "tcp" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as probe:
        try:
            probe.bind(("0.0.0.0", port))  # noqa: S104  (a probe, closed at once)
        except OSError as error:
            return PortCheck(
                port, protocol, "on this host", False, f"taken ({error}): free it for the engine"
            )
    return PortCheck(port, protocol, "on this host", True, "free")
