"""The private Docker host the dockerd tests run on: its containers run on its own engine, in its own
network namespace, and the host's engine never sees them; nothing of it is left once the test is done."""

from __future__ import annotations

import subprocess
from pathlib import Path

import docker
import pytest

from tests.utils.busybox_dynos import build_test_image
from tests.utils.test_host import docker_test_host

pytestmark = [pytest.mark.e2e, pytest.mark.dockerd_restart]


def test_a_container_on_the_test_host_runs_there_only_and_is_gone_afterwards() -> None:
    host_engine = docker.from_env()
    try:
        with docker_test_host() as host:
            client = host.client()
            try:
                image = build_test_image(client)
                container = client.containers.run(
                    image, ["busybox", "httpd", "-f", "-p", "8080", "-h", "/www"], detach=True
                )
                container.reload()
                address = container.attrs["NetworkSettings"]["IPAddress"]
                assert address.startswith("10.233."), f"the test host's own bridge, not {address}"
                fetched = subprocess.run(
                    host.in_netns(["busybox", "wget", "-q", "-O", "-", f"http://{address}:8080/"]),
                    capture_output=True,
                    text=True,
                    timeout=30,
                    check=False,
                )
                assert fetched.stdout == "wharf test dyno\n", fetched.stderr
                assert container.id not in {
                    c.id for c in host_engine.containers.list(ignore_removed=True, all=True)
                }
                assert client.info()["LiveRestoreEnabled"]
            finally:
                client.close()
            name, run_dir, link = host.name, host.run_dir, host.host_link
        netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
        assert name not in netns, "the network namespace was deleted"
        links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
        assert f" {link}@" not in links and f" {link}:" not in links, "the veth pair was deleted"
        assert not Path(run_dir).exists()
        assert host_engine.ping(), "the host's engine was never touched"
    finally:
        host_engine.close()
