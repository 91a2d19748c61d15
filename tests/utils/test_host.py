"""A private Docker host for tests that stop or start dockerd: a second dockerd in a network namespace
the test creates, so the host's engine (and every other test's containers) is never touched.

The namespace reaches the host through a veth pair with a /30 of WHARF_TEST_HOST_SUBNET (default
10.231.0.0/24); the engine has its own data root (cached under /var/lib/wharf-test-hosts, so images are
loaded from the host's engine once), exec root, pidfile, socket (/run/wharf-test-hosts/NAME/docker.sock),
bridge addresses (10.232.0.0/16, away from the host's 10.200.0.0/13 and 172.17) and live-restore.
Processes that run "on" the test host run under `ip netns exec NAME` with DOCKER_HOST set.
Everything is torn down on the way out, failure or not: containers, dockerd, its containerd and shims,
every process left in the namespace, the namespace and the veth pair. Linux, root only.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import json
import os
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker

from wharf.platform.docker_daemon import (
    DockerUnavailable,
    dockerd_pids,
    engine_answers,
    process_gone,
    stop_dockerd,
)

RUN_ROOT = Path("/run/wharf-test-hosts")
CACHE_ROOT = Path("/var/lib/wharf-test-hosts")
DEFAULT_SUBNET = "10.231.0.0/24"
BRIDGE_IP = "10.233.0.1/24"
ADDRESS_POOL = {"base": "10.232.0.0/16", "size": 24}


@dataclass(frozen=True)
class SharedLink:
    """A host bridge that several test hosts join instead of a veth /30 each, so that their engines
    reach each other on one subnet (a Swarm's nodes). `network`'s first address is the bridge's own."""

    bridge: str
    network: ipaddress.IPv4Network


@dataclass
class DockerTestHost:
    """A dockerd of its own in network namespace `name`, reached from the host at `address`."""

    name: str
    address: str
    host_address: str
    host_link: str
    run_dir: Path
    data_root: Path
    # A Swarm task uses the node's own copy of its image and never tries a registry; False for a node
    # that pulls from a registry on this machine (Wharf's), as a real node does.
    offline_images: bool = True
    _process: subprocess.Popen[bytes] | None = None

    @property
    def socket(self) -> Path:
        return self.run_dir / "docker.sock"

    @property
    def docker_host(self) -> str:
        return f"unix://{self.socket}"

    @property
    def config_path(self) -> Path:
        """dockerd's daemon.json: `dockerd --config-file` this is how the test host's engine starts."""
        return self.run_dir / "daemon.json"

    @property
    def log_path(self) -> Path:
        return self.run_dir / "dockerd.log"

    def in_netns(self, argv: list[str]) -> list[str]:
        """`argv` run in the namespace. nsenter, not `ip netns exec`: that one mounts a sysfs of its own,
        which hides the host's cgroup mounts from dockerd."""
        return ["nsenter", f"--net=/run/netns/{self.name}", "--", *argv]

    def env(self) -> dict[str, str]:
        """What a process needs to use this engine (and for `wharfd up` to start it as this host's)."""
        return {"DOCKER_HOST": self.docker_host, "WHARF_DOCKERD_CONFIG": str(self.config_path)}

    def client(self) -> docker.DockerClient:
        return docker.DockerClient(base_url=self.docker_host, timeout=120)

    def answers(self) -> bool:
        return engine_answers(self.socket)

    def _dockerd_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "DOCKER_SERVICE_PREFER_OFFLINE_IMAGE"}
        return {**env, "DOCKER_SERVICE_PREFER_OFFLINE_IMAGE": "1"} if self.offline_images else env

    def start_dockerd(self, timeout: float = 120.0) -> float:
        """Start the engine (in the namespace, detached); the seconds until it answered."""
        began = time.monotonic()
        binary = shutil.which("dockerd") or "dockerd"
        with self.log_path.open("ab") as log:
            process = self._process = subprocess.Popen(
                self.in_netns([binary, "--config-file", str(self.config_path)]),
                stdin=subprocess.DEVNULL,
                env=self._dockerd_env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        while not self.answers():
            if process.poll() is not None or time.monotonic() - began > timeout:
                raise RuntimeError(f"the test host's dockerd did not answer: {self.log_tail()}")
            time.sleep(0.1)
        return time.monotonic() - began

    def stop_dockerd(self, timeout: float = 120.0) -> list[int]:
        """SIGTERM this engine's dockerd (never another) and wait until it is gone."""
        pids = dockerd_pids(self.socket)
        try:
            stop_dockerd(self.socket, timeout=timeout)
        except DockerUnavailable:
            self.kill_dockerd()
        self._reap()
        return pids

    def kill_dockerd(self) -> list[int]:
        """SIGKILL this engine's dockerd, as a crash would end it: its containers keep running."""
        pids = dockerd_pids(self.socket)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self._reap()
        return pids

    def _reap(self) -> None:
        if self._process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout=10)
            self._process = None

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def load_images(self, names: list[str]) -> None:
        """Copy images from the host's engine (`docker save | docker load`) unless already here."""
        host = docker.from_env()
        mine = self.client()
        try:
            for name in names:
                wanted = host.images.get(name).id
                with contextlib.suppress(docker.errors.ImageNotFound):
                    if mine.images.get(name).id == wanted:
                        continue
                save = subprocess.Popen(["docker", "save", name], stdout=subprocess.PIPE)
                loaded = subprocess.run(
                    ["docker", "-H", self.docker_host, "load", "-q"],
                    stdin=save.stdout,
                    capture_output=True,
                    text=True,
                    check=False,
                )
                if save.stdout is not None:
                    save.stdout.close()
                if save.wait() != 0 or loaded.returncode != 0:
                    raise RuntimeError(f"could not load {name} into the test host: {loaded.stderr}")
        finally:
            host.close()
            mine.close()

    def remove_containers(self) -> None:
        """Every container and unused network on this engine: all of them are the test's."""
        client = self.client()
        try:
            for container in client.containers.list(all=True, ignore_removed=True):
                with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                    container.remove(force=True)
            with contextlib.suppress(docker.errors.APIError):
                client.networks.prune()
        finally:
            client.close()


def subnet_for_test_hosts() -> ipaddress.IPv4Network:
    return ipaddress.IPv4Network(os.environ.get("WHARF_TEST_HOST_SUBNET", DEFAULT_SUBNET))


def _run(*argv: str) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {done.stderr.strip()}")


def _addresses_in_use() -> set[str]:
    shown = subprocess.run(["ip", "-o", "-4", "addr"], capture_output=True, text=True, check=True).stdout
    return {field.split("/")[0] for line in shown.splitlines() for field in line.split()[3:4]}


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _make_namespace(name: str, host_link: str, shared: SharedLink | None = None) -> tuple[str, str]:
    """The namespace and its veth pair, on a free /30 or on `shared`'s bridge; (host address, namespace
    address)."""
    with _locked(RUN_ROOT / "addresses.lock"):
        used = _addresses_in_use()
        host_ip, ns_ip, prefix = _free_addresses(used, shared)
        ns_link = f"{host_link}n"
        _run("ip", "netns", "add", name)
        _run("ip", "link", "add", host_link, "type", "veth", "peer", "name", ns_link)
        _run("ip", "link", "set", ns_link, "netns", name)
        if shared is None:
            _run("ip", "addr", "add", f"{host_ip}/30", "dev", host_link)
        else:
            _run("ip", "link", "set", host_link, "master", shared.bridge)
        _run("ip", "link", "set", host_link, "up")
        for argv in (
            ["ip", "addr", "add", f"{ns_ip}/{prefix}", "dev", ns_link],
            ["ip", "link", "set", ns_link, "up"],
            ["ip", "link", "set", "lo", "up"],
        ):
            _run("nsenter", f"--net=/run/netns/{name}", "--", *argv)
    return host_ip, ns_ip


def _free_addresses(used: set[str], shared: SharedLink | None) -> tuple[str, str, int]:
    if shared is not None:
        bridge_ip, *others = (str(address) for address in shared.network.hosts())
        for ns_ip in others:
            if ns_ip not in used and ns_ip not in _addresses_in_netns():
                return bridge_ip, ns_ip, shared.network.prefixlen
        raise RuntimeError(f"no free address left on {shared.bridge} ({shared.network})")
    for block in subnet_for_test_hosts().subnets(new_prefix=30):
        host_ip, ns_ip = (str(address) for address in block.hosts())
        if host_ip not in used and ns_ip not in used:
            return host_ip, ns_ip, 30
    raise RuntimeError(f"no free /30 left in {subnet_for_test_hosts()} (WHARF_TEST_HOST_SUBNET)")


def _addresses_in_netns() -> set[str]:
    """The addresses the test hosts' namespaces hold (a namespace's addresses are not the host's)."""
    found: set[str] = set()
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False).stdout
    for line in listed.splitlines():
        name = line.split()[0] if line.split() else ""
        if name.startswith("wharf-th-"):
            shown = subprocess.run(
                ["nsenter", f"--net=/run/netns/{name}", "--", "ip", "-o", "-4", "addr"],
                capture_output=True,
                text=True,
                check=False,
            ).stdout
            found |= {field.split("/")[0] for row in shown.splitlines() for field in row.split()[3:4]}
    return found


def _kill_leftovers(host: DockerTestHost) -> None:
    """Every process still in the namespace, and the engine's containerd and shims (found by its exec
    root): all were started for this test host."""
    mine = str(host.run_dir).encode()
    listed = subprocess.run(["ip", "netns", "pids", host.name], capture_output=True, text=True, check=False)
    pids = {int(pid) for pid in listed.stdout.split() if pid.isdigit()}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if mine in (entry / "cmdline").read_bytes():
                    pids.add(int(entry.name))
    pids.discard(os.getpid())
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while not all(process_gone(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)


def _unmount_under(directory: Path) -> None:
    mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    for mount in sorted((m for m in mounts if m.startswith(f"{directory}/")), reverse=True):
        subprocess.run(["umount", "-l", mount], capture_output=True, check=False)


def _daemon_json(host: DockerTestHost, *, live_restore: bool = True) -> dict[str, object]:
    return {
        "hosts": [host.docker_host],
        "data-root": str(host.data_root),
        "exec-root": str(host.run_dir / "exec"),
        "pidfile": str(host.run_dir / "docker.pid"),
        "bip": BRIDGE_IP,
        "default-address-pools": [ADDRESS_POOL],
        "live-restore": live_restore,
        "iptables": True,
        "cgroup-parent": "/wharf-test-hosts",
        "containerd-namespace": "wharf-test-host",
        "containerd-plugins-namespace": "wharf-test-host-plugins",
        "log-driver": "json-file",
        "log-opts": {"max-size": "10m", "max-file": "3"},
    }


@contextlib.contextmanager
def docker_test_host(
    images: tuple[str, ...] = (),
    *,
    start: bool = True,
    live_restore: bool = True,
    data_root: Path | None = None,
    shared: SharedLink | None = None,
    offline_images: bool = True,
) -> Iterator[DockerTestHost]:
    """A test host, its engine started (unless `start` is false) with `images` loaded from the host's.

    Swarm mode refuses to start on an engine with live-restore: a Swarm node's test host passes
    `live_restore=False`. By default the engine uses the cached data root, one engine at a time; with
    `data_root` (a directory of the caller's, emptied and removed on the way out) several run at once.
    With `shared` the namespace joins that bridge instead of a veth /30 of its own. With
    `offline_images=False` its Swarm tasks pull their images (from a registry on this machine only).
    """
    token = secrets.token_hex(3)
    if data_root is None:
        # One engine at a time uses the cached data root; a second test host waits for it.
        with (
            _locked(CACHE_ROOT / "data-root.lock"),
            _running_test_host(
                token, CACHE_ROOT / "data-root", images, start, live_restore, shared, offline_images
            ) as host,
        ):
            yield host
        return
    try:
        with _running_test_host(
            token, data_root, images, start, live_restore, shared, offline_images
        ) as host:
            yield host
    finally:
        _unmount_under(data_root)
        shutil.rmtree(data_root, ignore_errors=True)


@contextlib.contextmanager
def _running_test_host(
    token: str,
    data_root: Path,
    images: tuple[str, ...],
    start: bool,
    live_restore: bool,
    shared: SharedLink | None,
    offline_images: bool = True,
) -> Iterator[DockerTestHost]:
    host = DockerTestHost(
        name=f"wharf-th-{token}",
        address="",
        host_address="",
        host_link=f"wth{token}",
        run_dir=RUN_ROOT / f"wharf-th-{token}",
        data_root=data_root,
        offline_images=offline_images,
    )
    try:
        host.run_dir.mkdir(parents=True, mode=0o700)
        host.host_address, host.address = _make_namespace(host.name, host.host_link, shared)
        host.config_path.write_text(json.dumps(_daemon_json(host, live_restore=live_restore), indent=2))
        host.start_dockerd()
        host.remove_containers()  # an earlier run's, restored from the cached data root
        host.load_images(list(images))
        if not start:
            host.stop_dockerd()
        yield host
    finally:
        if host.answers():
            with contextlib.suppress(docker.errors.DockerException):
                host.remove_containers()
        host.stop_dockerd()
        _kill_leftovers(host)
        _unmount_under(host.run_dir)
        subprocess.run(["ip", "netns", "del", host.name], capture_output=True, check=False)
        subprocess.run(["ip", "link", "del", host.host_link], capture_output=True, check=False)
        shutil.rmtree(host.run_dir, ignore_errors=True)
