"""The run and build images have what apps need, a non-root user, and share their base layer."""

from __future__ import annotations

import subprocess

import docker
import pytest

from wharf.platform.stack import DEFAULT_BUILD_IMAGE, DEFAULT_RUN_IMAGE, stack_images_present

pytestmark = pytest.mark.e2e


def run_in(image: str, script: str, user: str | None = None) -> str:
    argv = ["docker", "run", "--rm", *(["--user", user] if user else []), image, "bash", "-c", script]
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout


def test_images_are_present_after_the_build(stack_images: None) -> None:
    assert stack_images_present(run_image=DEFAULT_RUN_IMAGE, build_image=DEFAULT_BUILD_IMAGE)
    assert not stack_images_present(run_image="wharf/no-such-image:1", build_image=DEFAULT_BUILD_IMAGE)


def test_run_image_runs_apps_as_dyno_with_python_node_and_nginx(stack_images: None) -> None:
    out = run_in(
        DEFAULT_RUN_IMAGE,
        "id -u; id -un; echo $HOME; python3 --version; python3 -m venv /tmp/v "
        "&& echo venv-ok; node --version; npm --version; nginx -v 2>&1; test -x "
        "/usr/local/bin/wharf-launch && echo launch-ok; test -e /usr/share/man/man1 || echo no-man",
    )
    lines = out.splitlines()
    assert lines[:3] == ["1000", "dyno", "/app"]
    assert lines[3].startswith("Python 3.13")
    assert "venv-ok" in lines and "launch-ok" in lines and "no-man" in lines
    assert any(line.startswith("v20.") for line in lines)
    assert any("nginx/" in line for line in lines)


def test_run_image_has_the_libraries_apps_load(stack_images: None) -> None:
    out = run_in(
        DEFAULT_RUN_IMAGE,
        "ldconfig -p | grep -oE 'lib(ssl|pq|sqlite3)\\.so[^ ]*' | sort -u; "
        "test -f /usr/share/zoneinfo/Europe/Paris && echo tz-ok; curl --version | head -1",
    )
    for library in ("libssl.so", "libpq.so", "libsqlite3.so"):
        assert library in out
    assert "tz-ok" in out and "curl" in out


def test_build_image_adds_compilers_headers_git_and_uv(stack_images: None) -> None:
    out = run_in(
        DEFAULT_BUILD_IMAGE,
        "id -un; gcc --version | head -1; git --version; uv --version; "
        "test -f /usr/include/postgresql/libpq-fe.h && echo libpq-dev-ok; "
        "python3-config --includes; pkg-config --version",
    )
    assert out.startswith("dyno\n")
    assert "gcc" in out and "git version" in out and "uv " in out and "libpq-dev-ok" in out
    assert "python3.13" in out


def test_build_image_is_layered_on_the_run_image(stack_images: None) -> None:
    client = docker.from_env()
    run_layers = client.images.get(DEFAULT_RUN_IMAGE).attrs["RootFS"]["Layers"]
    build_layers = client.images.get(DEFAULT_BUILD_IMAGE).attrs["RootFS"]["Layers"]
    assert build_layers[: len(run_layers)] == run_layers
    assert len(build_layers) > len(run_layers)
