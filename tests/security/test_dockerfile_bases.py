"""A Dockerfile may build only from the stack images and the app's own images, and never as root.

Through `git push`: a victim app is deployed from its Dockerfile; an attacker's Dockerfile that names the
victim's release image (FROM, COPY --from, an ARG smuggling the name) or asks for root (`USER 00`,
`USER root:root`) is refused before anything runs, and the victim's source never shows in the push.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest

from tests.utils.e2e import Developer, Wharf, new_developer

pytestmark = pytest.mark.e2e
VICTIM_TEXT = "Hello from a Dockerfile app"


def push(dev: Developer, repo: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "push", "wharf", "main"], cwd=repo, env=dev.env(), capture_output=True, text=True, timeout=900
    )


@dataclass
class Victim:
    dev: Developer
    app: str
    repo: Path
    image: str


@pytest.fixture(scope="module")
def victim(wharf: Wharf, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Victim]:
    """Another tenant's app, deployed from its Dockerfile."""
    tmp_path = tmp_path_factory.mktemp("victim")
    dev = new_developer(wharf, tmp_path)
    app = dev.create_app()
    repo = dev.app_repo("dockerfile_app", app, tmp_path)
    pushed = push(dev, repo)
    assert pushed.returncode == 0, pushed.stderr
    version = dev.api.get(f"/api/apps/{app}/releases").json()[0]["version"]
    image = f"wharf/{app}:v{version}"
    client = docker.from_env()
    try:
        client.images.get(image)  # the victim's release image is there to be tried
    finally:
        client.close()
    yield Victim(dev=dev, app=app, repo=repo, image=image)
    dev.api.delete(f"/api/apps/{app}", params={"confirm": app})


@pytest.fixture
def attacker(developer: Developer) -> Iterator[Developer]:
    """A second tenant; the apps it made are destroyed afterwards, images and all."""
    yield developer
    for app in developer.api.get("/api/apps").json():
        developer.api.delete(f"/api/apps/{app['name']}", params={"confirm": app["name"]})


def dockerfile_app(dev: Developer, tmp_path: Path, dockerfile: str) -> tuple[str, Path]:
    app = dev.create_app()
    repo = tmp_path / f"docker-{app}"
    repo.mkdir()
    (repo / "Dockerfile").write_text(dockerfile)
    dev.git("init", "-q", "-b", "main", cwd=repo)
    dev.commit_all(repo, "first")
    dev.git("remote", "add", "wharf", f"{dev.wharf.url}/git/{app}.git", cwd=repo)
    return app, repo


@pytest.mark.parametrize(
    "dockerfile",
    [
        "FROM {victim}\nRUN cat /app/server.py\n",
        "FROM wharf/stack-run:trixie\nCOPY --from={victim} /app/server.py /tmp/s.py\nRUN cat /tmp/s.py\n",
        "ARG BASE={victim}\nFROM $BASE\nRUN cat /app/server.py\n",
        "FROM wharf/stack-run:trixie AS ok\nONBUILD COPY --from={victim} /app /stolen\n",
    ],
    ids=["from", "copy-from", "arg", "onbuild"],
)
def test_another_tenants_image_is_refused_as_a_base(
    victim: Victim, attacker: Developer, tmp_path: Path, dockerfile: str
) -> None:
    developer = attacker
    app, repo = dockerfile_app(developer, tmp_path, dockerfile.format(victim=victim.image))
    pushed = push(developer, repo)
    output = pushed.stdout + pushed.stderr

    assert pushed.returncode != 0, output
    assert "is not allowed" in output or "uses a build argument" in output
    assert "Build from a stack image" in output or "name the image itself" in output
    assert VICTIM_TEXT not in output
    assert VICTIM_TEXT not in developer.api.get(f"/api/apps/{app}/builds/latest").text


@pytest.mark.parametrize("user", ["00", "root:root"])  # every spelling: test_dockerfile_policy
def test_a_dockerfile_asking_for_root_is_refused(attacker: Developer, tmp_path: Path, user: str) -> None:
    developer = attacker
    dockerfile = f'FROM wharf/stack-run:trixie\nUSER {user}\nRUN id -u > /tmp/uid\nCMD ["sleep", "60"]\n'
    app, repo = dockerfile_app(developer, tmp_path, dockerfile)
    pushed = push(developer, repo)
    output = pushed.stdout + pushed.stderr

    assert pushed.returncode != 0, output
    assert "runs as root, which Wharf does not allow" in output
    assert "Step 2/" not in output  # refused before docker build ran anything
    client = docker.from_env()
    try:
        assert not client.images.list(name=f"wharf/{app}")
    finally:
        client.close()


def test_own_previous_image_is_an_allowed_base(victim: Victim) -> None:
    dockerfile = f"FROM {victim.image}\nRUN echo built as uid $(id -u)\n"
    (victim.repo / "Dockerfile").write_text(dockerfile)
    victim.dev.commit_all(victim.repo, "build on my own image")
    pushed = push(victim.dev, victim.repo)
    assert pushed.returncode == 0, pushed.stderr
    assert "built as uid 1000" in pushed.stderr
