"""`git push` of apps that ask for a Node.js version: the release runs that version, checked through the
router; the runtime is installed once per host and later pushes reuse it; a version that cannot be had is
refused with the versions on offer."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import pytest

from tests.utils.e2e import Developer, Wharf

pytestmark = pytest.mark.e2e


def push(dev: Developer, repo: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "push", "wharf", "main"], cwd=repo, env=dev.env(), capture_output=True, text=True, timeout=900
    )


def served(wharf: Wharf, app: str, pattern: str, timeout: float = 90.0) -> str:
    """The app's answer through the router once it matches PATTERN (or the last answer)."""
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        answer = wharf.app_get(app)
        text = answer.text
        if answer.status_code == 200 and re.search(pattern, text):
            return text
        time.sleep(0.5)
    return text


def node_app(
    dev: Developer, tmp_path: Path, *, engines: str | None, nvmrc: str | None = None
) -> tuple[str, Path]:
    app = dev.create_app()
    repo = dev.app_repo("nodejs_version_report", app, tmp_path)
    manifest = json.loads((repo / "package.json").read_text())
    if engines is None:
        del manifest["engines"]
    else:
        manifest["engines"]["node"] = engines
    (repo / "package.json").write_text(json.dumps(manifest, indent=2))
    if nvmrc is not None:
        (repo / ".nvmrc").write_text(nvmrc + "\n")
    dev.commit_all(repo, "pin node")
    return app, repo


def test_node_18_range_runs_node_18_and_a_second_push_uses_the_cache(
    developer: Developer, tmp_path: Path
) -> None:
    app, repo = node_app(developer, tmp_path, engines="18.x")
    first = push(developer, repo)
    output = first.stdout + first.stderr
    assert first.returncode == 0, output
    installed = re.search(r"-----> Installing Node\.js (18\.\d+\.\d+) *$", output, re.MULTILINE)
    assert installed, output
    assert "Downloading Node.js" in output
    version = installed[1]
    assert served(developer.wharf, app, rf"node v{re.escape(version)} npm start").startswith(
        f"node v{version}"
    )

    (repo / "README.md").write_text("changed\n")
    developer.commit_all(repo, "change the source")
    second = push(developer, repo)
    output = second.stdout + second.stderr
    assert second.returncode == 0, output
    assert f"-----> Installing Node.js {version} (cached)" in output
    assert "Downloading Node.js" not in output


def test_nvmrc_24_runs_node_24(developer: Developer, tmp_path: Path) -> None:
    app, repo = node_app(developer, tmp_path, engines=None, nvmrc="24")
    pushed = push(developer, repo)
    output = pushed.stdout + pushed.stderr
    assert pushed.returncode == 0, output
    assert re.search(r"Installing Node\.js 24\.\d+\.\d+", output), output
    assert re.match(r"node v24\.\d+\.\d+ npm start", served(developer.wharf, app, r"node v24\.")), output


def test_unavailable_node_version_is_refused_with_the_versions_on_offer(
    developer: Developer, tmp_path: Path
) -> None:
    app, repo = node_app(developer, tmp_path, engines=">=99 <100")
    pushed = push(developer, repo)
    output = pushed.stdout + pushed.stderr
    assert pushed.returncode != 0, output
    assert "Node.js >=99 <100 (from package.json engines.node) is not available" in output
    offer = re.search(r"Versions on offer \(the newest of each line\): (.*)", output)
    assert offer, output
    assert re.search(r"\b24\.\d+\.\d+", offer[1]) and re.search(r"\b18\.\d+\.\d+", offer[1]), offer[1]
    releases = developer.api.get(f"/api/apps/{app}/releases").json()
    assert all(not r["description"].startswith("Deploy ") for r in releases), releases


def python_app(dev: Developer, tmp_path: Path, version: str) -> tuple[str, Path]:
    app = dev.create_app()
    repo = dev.app_repo("python_version_report", app, tmp_path)
    if (repo / ".python-version").read_text() != version + "\n":
        (repo / ".python-version").write_text(version + "\n")
        dev.commit_all(repo, "pin python")
    return app, repo


def test_python_314_is_installed_once_and_runs_from_the_slug(developer: Developer, tmp_path: Path) -> None:
    app, repo = python_app(developer, tmp_path, "3.14")
    first = push(developer, repo)
    output = first.stdout + first.stderr
    assert first.returncode == 0, output
    installed = re.search(r"Installed Python (3\.14\.\d+) in", output)
    assert installed, output
    version = installed[1]
    answer = served(developer.wharf, app, rf"python {re.escape(version)} six")
    assert answer.startswith(f"python {version} six 1.17.0 at /app/.wharf/python"), answer

    other, other_repo = python_app(developer, tmp_path, version)
    second = push(developer, other_repo)
    output = second.stdout + second.stderr
    assert second.returncode == 0, output
    assert f"-----> Installing Python {version} (cached)" in output
    assert "from Debian's packages" not in output
    assert served(developer.wharf, other, rf"python {re.escape(version)} ").startswith(f"python {version} ")


def test_python_311_is_built_from_debians_source_archive_once_and_runs(
    developer: Developer, tmp_path: Path
) -> None:
    """No suite packages python3.11 for this stack; bookworm's source archive carries CPython's tarball."""
    app, repo = python_app(developer, tmp_path, "3.11")
    first = push(developer, repo)
    output = first.stdout + first.stderr
    assert first.returncode == 0, output
    assert re.search(r"Building Python 3\.11\.\d+ from CPython's source", output), output
    assert "Compiled (" in output, output
    installed = re.search(r"Installed Python (3\.11\.\d+) in ([\d.]+) s", output)
    assert installed, output
    version = installed[1]
    print(f"Python {version} built from source in {installed[2]} s")
    answer = served(developer.wharf, app, rf"python {re.escape(version)} six")
    assert answer.startswith(f"python {version} six 1.17.0 at /app/.wharf/python"), answer

    other, other_repo = python_app(developer, tmp_path, version)
    second = push(developer, other_repo)
    output = second.stdout + second.stderr
    assert second.returncode == 0, output
    assert f"-----> Installing Python {version} (cached)" in output
    assert "from CPython's source" not in output
    assert served(developer.wharf, other, rf"python {re.escape(version)} ").startswith(f"python {version} ")


def test_unavailable_python_version_is_refused_with_the_versions_on_offer(
    developer: Developer, tmp_path: Path
) -> None:
    _app, repo = python_app(developer, tmp_path, "3.9")
    pushed = push(developer, repo)
    output = pushed.stdout + pushed.stderr
    assert pushed.returncode != 0, output
    assert "Python 3.9 is not available on this stack (asked for in .python-version)" in output
    offer = re.search(r"Versions on offer: (.*)", output)
    assert offer and offer[1].startswith("3.13"), output
    assert "Change .python-version" in output
