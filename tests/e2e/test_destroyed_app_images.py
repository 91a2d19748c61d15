"""A destroyed app's images go once its dynos are gone, and not before they are."""

from __future__ import annotations

import io
import secrets
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import docker
import docker.errors
import pytest

from tests.utils.busybox_dynos import build_test_image, make_spec
from wharf.platform.builds.cleanup import remove_destroyed_app_images
from wharf.platform.builds.image import image_name
from wharf.platform.runtime.docker_runtime import DockerRuntime

pytestmark = pytest.mark.e2e


@pytest.fixture
def app_with_images() -> Iterator[tuple[docker.DockerClient, str]]:
    client = docker.from_env()
    base = build_test_image(client)
    app = f"gone-{secrets.token_hex(4)}"
    for version in (1, 2):
        # An image of its own per release, tagged only as the release, as a build leaves it.
        dockerfile = f"FROM {base}\nLABEL io.wharf.app={app} io.wharf.release={version}\n"
        client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=f"{image_name(app)}:v{version}")
    yield client, app
    for tag in app_tags(client, app):
        client.images.remove(tag)
    client.close()


def app_tags(client: docker.DockerClient, app: str) -> set[str]:
    """The app's own tags (the images carry the base image's tag too)."""
    own = f"{image_name(app)}:"
    return {t for image in client.images.list(name=image_name(app)) for t in image.tags if t.startswith(own)}


def test_images_are_removed_after_the_last_dyno_of_the_app_is(
    app_with_images: tuple[docker.DockerClient, str],
) -> None:
    client, app = app_with_images
    runtime = DockerRuntime(client)
    runtime.ensure_network(app)
    dyno = runtime.start_dyno(make_spec(app, ("sleep", "300"), image=f"{image_name(app)}:v2"))
    assert app_tags(client, app) == {f"{image_name(app)}:v1", f"{image_name(app)}:v2"}

    result: list[bool] = []
    job = threading.Thread(target=lambda: result.append(remove_destroyed_app_images(app, wait_seconds=60)))
    job.start()
    time.sleep(2)
    assert job.is_alive(), "the images went while a dyno still ran on them"
    assert app_tags(client, app), "the images went while a dyno still ran on them"
    runtime.remove_dyno(dyno.id)  # what the scheduler does to a destroyed app's dynos
    job.join(timeout=60)
    runtime.remove_network(app)
    assert result == [True]
    assert app_tags(client, app) == set()


def test_images_not_in_use_go_even_when_dynos_linger(
    app_with_images: tuple[docker.DockerClient, str],
) -> None:
    client, app = app_with_images
    runtime = DockerRuntime(client)
    runtime.ensure_network(app)
    dyno = runtime.start_dyno(make_spec(app, ("sleep", "300"), image=f"{image_name(app)}:v2"))
    try:
        assert remove_destroyed_app_images(app, wait_seconds=1) is False
        assert app_tags(client, app) == {f"{image_name(app)}:v2"}
    finally:
        runtime.remove_dyno(dyno.id)
        runtime.remove_network(app)


def test_a_new_app_that_took_the_name_keeps_its_images_and_dynos(
    app_with_images: tuple[docker.DockerClient, str],
) -> None:
    """The removal job of a destroyed app runs late; the name's new owner has built and deployed since."""
    client, app = app_with_images
    destroyed_at = datetime.now(UTC).isoformat()
    time.sleep(1.1)  # Docker's creation times are to the nanosecond; the new build comes strictly after
    base = build_test_image(client)
    dockerfile = f"FROM {base}\nLABEL io.wharf.app={app} io.wharf.release=1 io.wharf.owner=new\n"
    client.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=f"{image_name(app)}:v1")
    runtime = DockerRuntime(client)
    runtime.ensure_network(app)
    dyno = runtime.start_dyno(make_spec(app, ("sleep", "300"), image=f"{image_name(app)}:v1"))
    try:
        started = time.monotonic()
        assert remove_destroyed_app_images(app, wait_seconds=30, destroyed_at=destroyed_at) is True
        assert time.monotonic() - started < 10, "the job waited for the new owner's dyno"
        assert app_tags(client, app) == {f"{image_name(app)}:v1"}
        assert client.images.get(f"{image_name(app)}:v1").labels.get("io.wharf.owner") == "new"
        assert client.containers.get(dyno.id).status == "running"
    finally:
        runtime.remove_dyno(dyno.id)
        runtime.remove_network(app)
