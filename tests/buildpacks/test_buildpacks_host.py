"""Fast checks that need no Docker: detection on the host with bash, shellcheck, and the Python helpers."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.utils.buildpack_builds import BUILDPACKS_DIR, FIXTURES
from wharf.platform.builds.processes import merge_release_documents, parse_procfile
from wharf.platform.builds.slugignore import apply_slugignore

BUILTIN = ["multi", "python", "nodejs", "static", "procfile"]


def detect(buildpack: str, app_dir: Path) -> str | None:
    done = subprocess.run(
        ["bash", str(BUILDPACKS_DIR / buildpack / "bin" / "detect"), str(app_dir)],
        capture_output=True, text=True,
    )
    return done.stdout.strip() if done.returncode == 0 else None


def first_detected(app_dir: Path) -> str | None:
    return next((name for bp in BUILTIN if (name := detect(bp, app_dir))), None)


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        ("python_requirements", "Python"),
        ("python_uv_lock", "Python"),
        ("nodejs_npm", "Node.js"),
        ("static_site", "Static"),
        ("procfile_only", "Procfile"),
        ("multi_buildpacks", "Multipack"),
        ("no_language", None),
    ],
)
def test_builtin_order_detects_each_fixture(fixture: str, expected: str | None) -> None:
    assert first_detected(FIXTURES / fixture) == expected


def test_static_is_not_detected_next_to_another_language(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<h1>hi</h1>")
    assert detect("static", tmp_path) == "Static"
    (tmp_path / "package.json").write_text("{}")
    assert detect("static", tmp_path) is None


def test_every_script_starts_with_usage_and_strict_mode() -> None:
    scripts = sorted([*BUILDPACKS_DIR.glob("*/bin/*"), *BUILDPACKS_DIR.glob("bin/*")])
    assert len(scripts) == 16  # five buildpacks x3 and the builder
    for script in scripts:
        if script.suffix:
            continue
        lines = script.read_text().splitlines()
        assert lines[1].startswith("# Usage: "), script
        assert "set -euo pipefail" in lines, script


def test_shellcheck_is_clean() -> None:
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed (apt-get install shellcheck)")
    scripts = [str(p) for p in BUILDPACKS_DIR.glob("**/*") if p.is_file() and _is_bash(p)]
    done = subprocess.run(["shellcheck", *scripts], capture_output=True, text=True, cwd=BUILDPACKS_DIR)
    assert done.returncode == 0, done.stdout


def _is_bash(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(32).startswith((b"#!/usr/bin/env bash", b"#!/bin/bash"))


def requested_python(app_dir: Path) -> str:
    script = f'source "{BUILDPACKS_DIR}/python/lib/python_version.sh"; python_version::requested "$1"'
    return subprocess.run(
        ["bash", "-c", script, "bash", str(app_dir)], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_python_version_comes_from_python_version_then_runtime_txt(tmp_path: Path) -> None:
    assert requested_python(tmp_path) == ""
    (tmp_path / "runtime.txt").write_text("python-3.12.4\n")
    assert requested_python(tmp_path) == "3.12.4"
    (tmp_path / ".python-version").write_text("# pinned for Wharf\n3.13\n")
    assert requested_python(tmp_path) == "3.13"


def test_poetry_lock_becomes_pinned_main_requirements(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.poetry.dependencies]\npython = "^3.11"\nflask = "^3"\n'
        '[tool.poetry.group.dev.dependencies]\npytest = "*"\n'
    )
    (tmp_path / "poetry.lock").write_text(
        '[[package]]\nname = "flask"\nversion = "3.1.1"\n[package.dependencies]\nclick = ">=8"\n\n'
        '[[package]]\nname = "click"\nversion = "8.1.8"\n\n'
        '[[package]]\nname = "pytest"\nversion = "8.3.0"\n'
    )
    done = subprocess.run(
        [sys.executable, str(BUILDPACKS_DIR / "python/lib/poetry_lock.py"),
         str(tmp_path / "poetry.lock"), str(tmp_path / "pyproject.toml")],
        capture_output=True, text=True, check=True,
    )
    assert done.stdout.split() == ["click==8.1.8", "flask==3.1.1"]


def test_slugignore_removes_matching_paths_only(tmp_path: Path) -> None:
    for path in ["docs/guide.md", "src/docs/keep.md", "art/banner.psd", "banner.psd", "spec/a.rb",
                 "spec/deep/b.rb", "app.py"]:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("x")
    (tmp_path / ".slugignore").write_text("# comment\n/docs\n*.psd\nspec/*.rb\n!app.py\n")
    removed = apply_slugignore(tmp_path)
    assert sorted(removed) == ["art/banner.psd", "banner.psd", "docs/", "spec/a.rb"]
    assert (tmp_path / "src/docs/keep.md").exists()
    assert (tmp_path / "spec/deep/b.rb").exists()
    assert (tmp_path / "app.py").exists()


def test_procfile_overrides_and_release_documents_merge() -> None:
    assert parse_procfile("web: gunicorn app:app\n# worker: no\nworker:python w.py\nbad line\n") == {
        "web": "gunicorn app:app",
        "worker": "python w.py",
    }
    process_types, config_vars = merge_release_documents([
        "---\ndefault_process_types:\n  web: npm start\n",
        "--- {}\n",
        "---\nconfig_vars:\n  A: '1'\ndefault_process_types:\n  web: bin/serve\n  worker: bin/work\n",
    ])
    assert process_types == {"web": "bin/serve", "worker": "bin/work"}
    assert config_vars == {"A": "1"}


@pytest.mark.parametrize(
    ("files", "web"),
    [
        ({"package.json": '{"scripts": {"start": "node app.js"}}'}, True),
        ({"package.json": '{"name": "no-start"}', "server.js": ""}, True),
        ({"package.json": '{"name": "no-start", "scripts": {"build": "tsc"}}', "index.js": ""}, False),
    ],
)
@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed on this host")
def test_nodejs_web_process_only_with_a_start_script_or_server_js(
    tmp_path: Path, files: dict[str, str], web: bool
) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)

    done = subprocess.run(
        ["bash", str(BUILDPACKS_DIR / "nodejs" / "bin" / "release"), str(tmp_path)],
        capture_output=True, text=True, check=True,
    )

    process_types, _ = merge_release_documents([done.stdout])
    assert process_types == ({"web": "npm start"} if web else {})
