"""What the Docker runtime promises beyond the shared contract: CIS hardening and app isolation."""

from __future__ import annotations

import dataclasses
import io

import docker
import pytest

from tests.utils.busybox_dynos import TEST_IMAGE, WEB, Apps, build_test_image, http_get, make_spec
from wharf.platform.runtime import DynoSpec, ImageNotFound, network_name, size_named
from wharf.platform.runtime.docker_runtime import DockerRuntime

pytestmark = pytest.mark.e2e


def oneoff(app: str, command: str, image: str = TEST_IMAGE, writable_paths: tuple[str, ...] = ()) -> DynoSpec:
    spec = make_spec(app, command, process_type="run", number=7, image=image)
    return dataclasses.replace(spec, writable_paths=writable_paths)


def run_and_capture(runtime: DockerRuntime, spec: DynoSpec) -> tuple[int, str]:
    output = bytearray()
    exit_code = runtime.run_oneoff(spec, on_output=output.extend, timeout=60)
    return exit_code, output.decode()


def test_containers_are_hardened(
    docker_runtime: DockerRuntime, docker_apps: Apps, docker_client: docker.DockerClient
) -> None:
    app = docker_apps.new()
    dyno = docker_runtime.start_dyno(make_spec(app, WEB, size="standard"))

    attrs = docker_client.containers.get(dyno.id).attrs
    host = attrs["HostConfig"]
    standard = size_named("standard")
    assert attrs["Config"]["User"] == "1000:1000"
    assert host["CapDrop"] == ["ALL"] and not host["CapAdd"]
    assert "no-new-privileges" in host["SecurityOpt"]
    assert host["Privileged"] is False
    assert host["PidsLimit"] == standard.pids_limit
    assert host["Memory"] == host["MemorySwap"] == standard.memory_bytes
    assert host["NanoCpus"] == standard.nano_cpus and host["CpuShares"] == standard.cpu_shares
    assert host["ReadonlyRootfs"] is False and "/tmp" in host["Tmpfs"]
    disk = {"size": str(standard.disk_bytes)} if docker_runtime.disk_limits else None
    assert host.get("StorageOpt") == disk
    assert host["RestartPolicy"]["Name"] == "no"
    assert host["Init"] is True
    assert list(attrs["NetworkSettings"]["Networks"]) == [network_name(app)]
    mounted = [m.get("Source", "") for m in attrs["Mounts"]] + list(host.get("Binds") or [])
    assert not any("docker.sock" in source for source in mounted)


def test_the_process_runs_as_a_non_root_user_on_a_writable_ephemeral_root(
    docker_runtime: DockerRuntime, docker_apps: Apps
) -> None:
    app = docker_apps.new()
    command = (
        "id -u; touch /tmp/scratch && echo tmp-writable; mkdir -p /app/.npm/_logs && echo app-writable; "
        "ls /app/.npm/_logs/left-behind 2>/dev/null || echo fresh; touch /app/.npm/_logs/left-behind; "
        "touch /etc/passwd 2>/dev/null || echo etc-protected"
    )

    first_exit, first = run_and_capture(docker_runtime, oneoff(app, command))
    second_exit, second = run_and_capture(docker_runtime, oneoff(app, command))

    assert (first_exit, second_exit) == (0, 0)
    assert (
        first.split() == second.split() == ["1000", "tmp-writable", "app-writable", "fresh", "etc-protected"]
    )


def test_writable_paths_keep_the_image_content_under_a_read_only_root(
    docker_runtime: DockerRuntime, docker_apps: Apps
) -> None:
    command = "touch /app/written && cat /app/Procfile"
    spec = dataclasses.replace(
        oneoff(docker_apps.new(), command, writable_paths=("/app",)), read_only_root=True
    )

    exit_code, output = run_and_capture(docker_runtime, spec)

    assert exit_code == 0
    assert output.startswith("web: busybox httpd")


def test_an_image_declaring_a_non_root_user_keeps_it(
    docker_runtime: DockerRuntime, docker_apps: Apps, docker_client: docker.DockerClient
) -> None:
    image = build_test_image(docker_client, tag="wharf/test-busybox:user-1001", user="1001")

    exit_code, output = run_and_capture(docker_runtime, oneoff(docker_apps.new(), "id -u", image=image))

    assert (exit_code, output.strip()) == (0, "1001")


def test_an_image_user_named_otherwise_but_with_uid_0_runs_as_the_default_user(
    docker_runtime: DockerRuntime, docker_apps: Apps, docker_client: docker.DockerClient
) -> None:
    base = build_test_image(docker_client)
    tag = "wharf/test-busybox:toor"
    dockerfile = f"FROM {base}\nRUN echo 'toor:x:0:0::/:/bin/sh' >> /etc/passwd\nUSER toor\n"
    docker_client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=tag, rm=True)
    try:
        exit_code, output = run_and_capture(docker_runtime, oneoff(docker_apps.new(), "id -u", image=tag))
        assert (exit_code, output.strip()) == (0, "1000")
        with pytest.raises(ValueError, match="root"):
            docker_runtime.start_dyno(make_spec(docker_apps.new(), WEB, image=tag, user="toor"))
        with pytest.raises(ValueError, match="root"):
            docker_runtime.start_dyno(make_spec(docker_apps.new(), WEB, user="00"))
    finally:
        docker_client.images.remove(tag, force=True)


def test_root_is_refused(docker_runtime: DockerRuntime, docker_apps: Apps) -> None:
    with pytest.raises(ValueError, match="root"):
        docker_runtime.start_dyno(make_spec(docker_apps.new(), WEB, user="root"))


def test_a_missing_image_is_reported_and_never_pulled(
    docker_runtime: DockerRuntime, docker_apps: Apps
) -> None:
    with pytest.raises(ImageNotFound):
        docker_runtime.start_dyno(make_spec(docker_apps.new(), WEB, image="wharf/absent:v1"))


def test_the_cpu_limit_is_capped_to_the_host(
    docker_runtime: DockerRuntime, docker_apps: Apps, docker_client: docker.DockerClient
) -> None:
    dyno = docker_runtime.start_dyno(make_spec(docker_apps.new(), WEB, size="performance"))

    host_cpus = int(docker_client.info()["NCPU"])
    nano_cpus = docker_client.containers.get(dyno.id).attrs["HostConfig"]["NanoCpus"]
    assert nano_cpus == min(size_named("performance").nano_cpus, host_cpus * 1_000_000_000)


def test_an_app_cannot_reach_another_apps_dynos(docker_runtime: DockerRuntime, docker_apps: Apps) -> None:
    app_a, app_b = docker_apps.new(), docker_apps.new()
    a_web = docker_runtime.start_dyno(make_spec(app_a, WEB))
    b_web = docker_runtime.start_dyno(make_spec(app_b, WEB))
    assert a_web.address and b_web.address
    http_get(a_web.address)
    http_get(b_web.address)

    def fetch_from_a(address: tuple[str, int]) -> tuple[int, str]:
        command = f"printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {address[0]} {address[1]}"
        return run_and_capture(docker_runtime, oneoff(app_a, command))

    same_app_exit, same_app_output = fetch_from_a(a_web.address)
    other_app_exit, other_app_output = fetch_from_a(b_web.address)

    assert same_app_exit == 0
    assert same_app_output.startswith("HTTP/1.1 200") and same_app_output.endswith("wharf test dyno\n")
    assert other_app_exit != 0
    assert "wharf test dyno" not in other_app_output
