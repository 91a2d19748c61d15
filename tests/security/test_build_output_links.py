"""A build, or the pushed tree, that links files Wharf reads to the host's secret key gets nothing back.

The attack through `git push`: an npm `postinstall` replaces /output/buildpacks (or the Procfile) with a
link to the installation's secret key, which the host reads after the builder exits. The push fails with
a message naming the link, and the key shows nowhere: push output, builds, releases, dynos.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.utils.e2e import Developer, Wharf

pytestmark = pytest.mark.e2e


@pytest.fixture
def attacker(developer: Developer) -> Iterator[Developer]:
    """A tenant whose apps are destroyed afterwards."""
    yield developer
    for app in developer.api.get("/api/apps").json():
        developer.api.delete(f"/api/apps/{app['name']}", params={"confirm": app["name"]})


def npm_app(dev: Developer, tmp_path: Path, app: str, postinstall: str) -> Path:
    """An npm app without dependencies (npm needs no registry) whose postinstall runs POSTINSTALL."""
    repo = tmp_path / f"npm-{app}"
    repo.mkdir()
    package = {"name": "linker", "version": "1.0.0", "private": True, "scripts": {"postinstall": postinstall}}
    (repo / "package.json").write_text(json.dumps(package))
    (repo / ".npmrc").write_text("foreground-scripts=true\n")  # npm shows the script's own output
    (repo / "Procfile").write_text(
        "web: node -e 'require(\"http\").createServer().listen(process.env.PORT)'\n"
    )
    dev.git("init", "-q", "-b", "main", cwd=repo)
    dev.commit_all(repo, "first")
    dev.git("remote", "add", "wharf", f"{dev.wharf.url}/git/{app}.git", cwd=repo)
    return repo


def push(dev: Developer, repo: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "push", "wharf", "main"], cwd=repo, env=dev.env(), capture_output=True, text=True, timeout=900
    )


def everything_the_user_sees(dev: Developer, app: str) -> str:
    api = dev.api
    seen = [api.get(f"/api/apps/{app}/builds").text, api.get(f"/api/apps/{app}/builds/latest").text]
    seen += [api.get(f"/api/apps/{app}/releases").text, api.get(f"/api/apps/{app}/dynos").text]
    seen += [api.get(f"/api/apps/{app}").text]
    return "\n".join(seen)


def secret_key(wharf: Wharf) -> str:
    key = (wharf.data_dir / "secret.key").read_text().strip()
    assert len(key) >= 32
    return key


def assert_build_dirs_gone(wharf: Wharf, dev: Developer, app: str) -> None:
    for build in dev.api.get(f"/api/apps/{app}/builds").json():
        assert not (wharf.data_dir / "builds" / str(build["id"])).exists()


@pytest.mark.parametrize(
    ("target", "shown"), [("/output/buildpacks", "/output/buildpacks"), ("/app/Procfile", "Procfile")]
)
def test_postinstall_linking_build_output_to_the_secret_key_gets_nothing_back(
    wharf: Wharf, attacker: Developer, tmp_path: Path, target: str, shown: str
) -> None:
    developer = attacker
    key = secret_key(wharf)
    app = developer.create_app()
    script = f"grep -E 'CapBnd|NoNewPrivs' /proc/self/status; ln -sf {wharf.data_dir / 'secret.key'} {target}"
    pushed = push(developer, npm_app(developer, tmp_path, app, script))
    output = pushed.stdout + pushed.stderr

    assert pushed.returncode != 0, output
    assert f"{shown} is a symbolic link" in output
    assert "internal error" not in output
    assert key not in output
    assert key not in everything_the_user_sees(developer, app)
    # The builder holds no capability and cannot gain any.
    assert "CapBnd:\t0000000000000000" in output
    assert "NoNewPrivs:\t1" in output
    assert_build_dirs_gone(wharf, developer, app)


def test_pushed_tree_with_an_absolute_procfile_link_is_refused_by_name(
    wharf: Wharf, attacker: Developer, tmp_path: Path
) -> None:
    developer = attacker
    key = secret_key(wharf)
    app = developer.create_app()
    repo = npm_app(developer, tmp_path, app, "true")
    (repo / "Procfile").unlink()
    (repo / "Procfile").symlink_to(wharf.data_dir / "secret.key")
    developer.commit_all(repo, "link the Procfile")
    pushed = push(developer, repo)
    output = pushed.stdout + pushed.stderr

    assert pushed.returncode != 0, output
    assert "The pushed tree has Procfile, a link to" in output
    assert "Commit the file itself in place of the link" in output
    assert "internal error" not in output
    assert key not in output + everything_the_user_sees(developer, app)
    assert_build_dirs_gone(wharf, developer, app)
