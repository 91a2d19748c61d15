"""What a builder node's agent accepts, what the worker packs for it and what it takes back."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Any

import pytest

from tests.utils.swarm_nodes import Swarm, builder_node
from wharf.platform.builds import relay_wire as wire
from wharf.platform.builds.builder_nodes import choose_builder_node
from wharf.platform.builds.compile import BuildFailed, PreparedCompile, _Workspace
from wharf.platform.builds.relayed_compile import check_built_members, pack_workspace, unpack_built


def _request(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "session": "a" * 32,
        "app": "shop",
        "cache_key": "0123456789abcdef",
        "image": "10.0.0.1:5000/wharf/stack-build@sha256:" + "b" * 64,
        "command": ["/opt/wharf-buildpacks/bin/wharf-build", "/app", "/cache", "/env", "/output"],
        "environment": {"HOME": "/tmp", "STACK": "wharf-trixie"},
        "user": "1000:1000",
        "working_dir": "/app",
        "memory_bytes": 2 << 30,
        "nano_cpus": 2_000_000_000,
        "pids": 4096,
        "network": "bridge",
        "max_archive_bytes": 1 << 30,
    }
    data.update(changes)
    return data


def test_a_build_request_goes_over_the_wire_and_builds_a_hardened_container() -> None:
    request = wire.BuildRequest.from_json(
        wire.BuildRequest(**{**_request(), "command": ("a", "b")}).to_json()
    )
    settings = request.container_settings()
    assert settings["user"] == "1000:1000"
    assert settings["cap_drop"] == ["ALL"] and settings["security_opt"] == ["no-new-privileges"]
    assert settings["mem_limit"] == 2 << 30 and settings["pids_limit"] == 4096
    assert settings["volumes"] == {
        "wharf-build-cache-shop-0123456789abcdef": {"bind": "/cache", "mode": "rw"}
    }
    assert settings["command"] == ["a", "b"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("user", "0:0"),
        ("user", "root"),
        ("app", "../etc"),
        ("app", "Shop"),
        ("network", "host"),
        ("session", "x" * 32),
        ("image", "bad image"),
        ("environment", {"BAD NAME": "x"}),
        ("command", "sh -c 'rm -rf /'"),
        ("memory_bytes", 0),
        ("cache_key", "../../x"),
        ("working_dir", "/app/../etc"),
    ],
)
def test_the_agent_refuses_a_request_the_worker_never_sends(field: str, value: object) -> None:
    import json

    with pytest.raises(wire.BadRequest):
        wire.BuildRequest.from_json(json.dumps(_request(**{field: value})).encode())


def _tar(*members: tarfile.TarInfo) -> list[tarfile.TarInfo]:
    return list(members)


def _member(name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info


def test_the_built_app_may_hold_links_anywhere_but_nothing_that_writes_outside_it() -> None:
    check_built_members(
        [
            _member("app", tarfile.DIRTYPE),
            _member("app/.heroku/python/bin/python", tarfile.SYMTYPE, "/usr/bin/python3"),
            _member("app/a"),
            _member("app/b", tarfile.LNKTYPE, "app/a"),
        ],
        "app",
    )
    refused = [
        [_member("etc/passwd")],
        [_member("app/../../etc/passwd")],
        [_member("app/null", tarfile.CHRTYPE)],
        [_member("app/link", tarfile.SYMTYPE, "/etc"), _member("app/link/passwd")],
        [_member("app/shadow", tarfile.LNKTYPE, "/etc/shadow")],
        [_member("app/shadow", tarfile.LNKTYPE, "app/../../etc/shadow")],
    ]
    for members in refused:
        with pytest.raises(BuildFailed):
            check_built_members(members, "app")


def test_unpacking_the_built_app_replaces_the_workspace_copy(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "stale").write_text("from before the build")
    archive = tmp_path / "built.tar"
    with tarfile.open(archive, "w") as tar:
        folder = _member("app", tarfile.DIRTYPE)
        folder.mode = 0o755
        tar.addfile(folder)
        data = b"built on the node"
        file = _member("app/built")
        file.size = len(data)
        tar.addfile(file, io.BytesIO(data))
    unpack_built(archive, tmp_path, "app")
    assert sorted(path.name for path in (tmp_path / "app").iterdir()) == ["built"]
    assert (tmp_path / "app" / "built").read_text() == "built on the node"


def test_the_workspace_holds_each_mount_at_its_path_the_runtimes_it_uses_and_never_the_cache(
    tmp_path: Path,
) -> None:
    work = _Workspace(tmp_path / "work")
    for folder in (work.app, work.env, work.output):
        folder.mkdir(parents=True)
    (work.app / "Procfile").write_text("web: ./serve\n")
    (work.env / "SECRET").write_text("s3cret")
    runtimes = tmp_path / "runtimes"
    for version in ("python/3.12.7", "python/3.11.9"):
        (runtimes / version / "bin").mkdir(parents=True)
        (runtimes / version / "bin" / "python3").write_text("#!")
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "old").write_text("cached on the manager")
    buildpacks = tmp_path / "buildpacks"
    (buildpacks / "bin").mkdir(parents=True)
    (buildpacks / "bin" / "wharf-build").write_text("#!/bin/sh\n")
    prepared = PreparedCompile(
        work=work,
        run_kwargs={
            "user": "1000:1000",
            "environment": {"WHARF_PYTHON_HOME": "/runtimes/python/3.12.7", "HOME": "/tmp"},
            "volumes": {
                str(work.app): {"bind": "/app", "mode": "rw"},
                str(cache): {"bind": "/cache", "mode": "rw"},
                str(work.env): {"bind": "/env", "mode": "ro"},
                str(work.output): {"bind": "/output", "mode": "rw"},
                str(buildpacks): {"bind": "/opt/wharf-buildpacks", "mode": "ro"},
                str(runtimes): {"bind": "/runtimes", "mode": "ro"},
            },
        },
    )
    pack_workspace(prepared, tmp_path / "workspace.tar")
    assert (tmp_path / "workspace.tar").stat().st_mode & 0o777 == 0o600, "it holds the config vars"
    with tarfile.open(tmp_path / "workspace.tar") as tar:
        members = {member.name: member for member in tar.getmembers()}
    assert "app/Procfile" in members and "env/SECRET" in members
    assert "runtimes/python/3.12.7/bin/python3" in members
    assert not any(name.startswith("runtimes/python/3.11.9") for name in members)
    assert not any(name.startswith("cache/") for name in members), "the manager's cache went to the node"
    assert (members["cache"].uid, members["cache"].isdir()) == (1000, True)
    assert (members["app/Procfile"].uid, members["env/SECRET"].uid) == (1000, 1000)
    assert members["opt/wharf-buildpacks/bin/wharf-build"].uid == 0
    assert members["runtimes/python/3.12.7/bin/python3"].uid == 0


class _Listeners:
    def __init__(self, nodes: set[str]) -> None:
        self._nodes = nodes

    def pubsub_numsub(self, channel: str) -> list[tuple[str, int]]:
        return [(channel, int(any(wire.requests_channel(node) == channel for node in self._nodes)))]


def test_the_build_goes_to_the_builder_with_the_most_memory_free_whose_agent_listens() -> None:
    reserve = {
        "NodeID": "b2",
        "Status": {"State": "running"},
        "Spec": {"Resources": {"Reservations": {"MemoryBytes": 6 << 30}}},
    }
    swarm = Swarm(
        [
            builder_node("m1", "manager", role=None),
            builder_node("b1", "build-1"),
            builder_node("b2", "build-2"),
            builder_node("b3", "build-3", state="down"),
        ],
        [reserve],
    )
    choice = choose_builder_node(swarm, _Listeners({"b1", "b2", "b3"}), 2 << 30)
    assert choice.node is not None and choice.node.name == "build-1"

    nobody = choose_builder_node(swarm, _Listeners({"b2"}), 4 << 30)
    assert nobody.node is None
    assert nobody.passed_over is not None
    assert "build-1's agent does not listen for builds" in nobody.passed_over
    assert "build-2 has 2048 MB free" in nobody.passed_over
    assert "build-3 is down" in nobody.passed_over

    assert (
        choose_builder_node(
            Swarm([builder_node("m1", "manager", role=None)], []), _Listeners(set()), 1
        ).passed_over
        is None
    )


def test_an_app_created_again_under_the_same_name_gets_a_build_cache_of_its_own() -> None:
    from datetime import UTC, datetime

    from wharf.platform.builds.relayed_compile import build_cache_key

    created = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    first = build_cache_key("install-a", 7, created)
    assert build_cache_key("install-a", 7, created) == first, "the same app keeps its cache"
    assert build_cache_key("install-a", 7, created.replace(minute=31)) != first, "an id used again"
    assert build_cache_key("install-a", 8, created) != first
    assert build_cache_key("install-b", 7, created) != first
    assert wire.cache_volume("shop", first) == f"wharf-build-cache-shop-{first}"
