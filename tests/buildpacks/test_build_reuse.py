"""Which build output may be reused, and how a compiled app is cut into layers (no Docker needed)."""

from __future__ import annotations

import os
import subprocess
import tarfile
from pathlib import Path

import pytest

from wharf.platform.builds.layers import split_app_tree, write_layer_tar
from wharf.platform.builds.reuse import ReuseRecord, ReuseStore, reuse_key, tree_digest, valid_inputs
from wharf.platform.stack.images import DYNO_UID

BUILDPACKS = Path(__file__).resolve().parents[2] / "buildpacks"


def make_tree(root: Path, files: dict[str, str]) -> Path:
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return root


def key(
    source: Path, inputs: list[str], config: dict[str, str] | None = None, images: list[str] | None = None
) -> str:
    return reuse_key(
        source_dir=source,
        inputs=inputs,
        config=config or {},
        images=images or ["sha256:build", "sha256:run"],
        buildpacks_digest=tree_digest(BUILDPACKS),
    )


def test_source_changes_keep_the_key_and_dependency_changes_change_it(tmp_path: Path) -> None:
    source = make_tree(tmp_path / "app", {"requirements.txt": "flask==3.1.1\n", "app.py": "print(1)\n"})
    inputs = ["requirements.txt", ".python-version"]
    before = key(source, inputs)
    (source / "app.py").write_text("print(2)\n")
    (source / "new_module.py").write_text("x = 1\n")
    assert key(source, inputs) == before
    (source / ".python-version").write_text("3.13\n")
    assert key(source, inputs) != before


@pytest.mark.parametrize(
    "change",
    [
        lambda source: (source / "requirements.txt").write_text("flask==3.1.0\n"),
        lambda source: (source / "package.json").write_text("{}\n"),  # another buildpack would detect
        lambda source: (source / "Procfile").write_text("web: other\n"),
        lambda source: (source / ".slugignore").write_text("*.md\n"),
    ],
)
def test_what_decides_the_buildpack_output_changes_the_key(tmp_path: Path, change: object) -> None:
    source = make_tree(
        tmp_path / "app", {"requirements.txt": "flask==3.1.1\n", "Procfile": "web: gunicorn\n"}
    )
    before = key(source, ["requirements.txt"])
    change(source)  # type: ignore[operator]
    assert key(source, ["requirements.txt"]) != before


def test_config_images_and_buildpacks_change_the_key(tmp_path: Path) -> None:
    source = make_tree(tmp_path / "app", {"requirements.txt": "flask\n"})
    before = key(source, ["requirements.txt"])
    assert key(source, ["requirements.txt"], config={"PIP_INDEX_URL": "https://mirror"}) != before
    assert key(source, ["requirements.txt"], images=["sha256:other", "sha256:run"]) != before
    changed = reuse_key(
        source_dir=source, inputs=["requirements.txt"], config={}, images=["sha256:build", "sha256:run"],
        buildpacks_digest="another version of the buildpacks",
    )  # fmt: skip
    assert changed != before


def test_an_input_that_links_outside_the_app_is_not_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("one\n")
    source = make_tree(tmp_path / "app", {"app.py": ""})
    (source / "requirements.txt").symlink_to(secret)
    before = key(source, ["requirements.txt"])
    secret.write_text("two\n")
    assert key(source, ["requirements.txt"]) == before


def test_an_oversized_input_is_not_read_and_never_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def lock_key(source: Path) -> str:
        return reuse_key(
            source_dir=source, inputs=["package-lock.json"], config={}, images=[], buildpacks_digest="same"
        )

    monkeypatch.setattr("wharf.platform.builds.reuse.MAX_DIGEST_BYTES", 1024)
    source = make_tree(tmp_path / "app", {"app.py": "", "package-lock.json": "x" * 2048})
    assert lock_key(source) != lock_key(source)
    (source / "package-lock.json").write_text("x" * 512)
    assert lock_key(source) == lock_key(source)


def test_a_fifo_input_does_not_hang_the_build(tmp_path: Path) -> None:
    source = make_tree(tmp_path / "app", {"app.py": ""})
    os.mkfifo(source / "requirements.txt")
    assert key(source, ["requirements.txt"]) == key(source, ["requirements.txt"])


def test_declared_inputs_must_stay_inside_the_app() -> None:
    assert valid_inputs(["requirements.txt", "", "uv.lock", "requirements.txt"]) == [
        "requirements.txt",
        "uv.lock",
    ]
    assert valid_inputs(["../other-app/requirements.txt"]) is None
    assert valid_inputs(["/etc/passwd"]) is None


def test_records_round_trip_and_a_damaged_one_is_ignored(tmp_path: Path) -> None:
    store = ReuseStore(tmp_path / "reuse")
    record = ReuseRecord(
        key="k", inputs=["requirements.txt"], dependency_image="sha256:abc", dependency_bytes=10,
        buildpacks=["Python"], process_types={"web": "gunicorn"}, config_vars={},
    )  # fmt: skip
    assert store.load("myapp") is None
    store.save("myapp", record)
    assert store.load("myapp") == record
    (tmp_path / "reuse" / "myapp.json").write_text("{not json")
    assert store.load("myapp") is None
    store.forget("myapp")
    assert store.load("myapp") is None


def test_compiled_app_splits_into_buildpack_output_and_source(tmp_path: Path) -> None:
    source = make_tree(tmp_path / "source", {"app.py": "", "pkg/mod.py": "", "Procfile": "web: x\n"})
    built = make_tree(
        tmp_path / "built",
        {
            "app.py": "",
            "pkg/mod.py": "",
            "pkg/generated.py": "",
            "Procfile": "web: x\n",
            ".venv/bin/python": "",
            ".profile.d/python.sh": "",
        },
    )
    tree = split_app_tree(built, source)
    assert set(tree.source) == {"app.py", "pkg", "pkg/mod.py", "Procfile"}
    assert set(tree.buildpack_output) == {".venv", ".venv/bin", ".venv/bin/python", ".profile.d",
                                          ".profile.d/python.sh", "pkg/generated.py"}  # fmt: skip


def test_layer_archives_put_files_under_app_owned_by_the_dyno_user(tmp_path: Path) -> None:
    built = make_tree(
        tmp_path / "built", {"app.py": "print(1)\n", "pkg/mod.py": "", ".venv/bin/python": "#!"}
    )
    (built / ".venv" / "bin" / "python3").symlink_to("python")
    (built / ".venv" / "bin" / "python").chmod(0o700)
    archive = tmp_path / "layer.tar"
    write_layer_tar(
        built, [".venv", ".venv/bin", ".venv/bin/python", ".venv/bin/python3", "pkg/mod.py"], archive
    )
    with tarfile.open(archive) as tar:
        members = {member.name: member for member in tar.getmembers()}
    venv = {"app/.venv", "app/.venv/bin", "app/.venv/bin/python", "app/.venv/bin/python3"}
    assert set(members) == {"app", *venv, "app/pkg", "app/pkg/mod.py"}
    assert {(m.uid, m.gid) for m in members.values()} == {(DYNO_UID, DYNO_UID)}
    assert members["app/.venv/bin/python3"].linkname == "python"
    assert members["app/.venv/bin/python"].mode & 0o111
    listed = subprocess.run(["tar", "-tf", str(archive)], capture_output=True, text=True, check=True)
    assert "app.py" not in listed.stdout
