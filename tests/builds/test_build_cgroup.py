"""The pids cgroup a Dockerfile build runs under, on a stand-in cgroup tree."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wharf.platform.builds.build_cgroup import build_pids_cgroup


class Engine:
    def __init__(self, driver: str) -> None:
        self.driver = driver

    def info(self) -> dict[str, Any]:
        return {"CgroupDriver": self.driver}


def test_cgroupfs_gets_a_parent_with_the_limit_that_goes_afterwards(tmp_path: Path) -> None:
    (tmp_path / "pids").mkdir()
    with build_pids_cgroup(Engine("cgroupfs"), 40, root=tmp_path) as parent:
        assert parent is not None and parent.startswith("/wharf-builds/build-")
        group = tmp_path / "pids" / parent.lstrip("/")
        assert (group / "pids.max").read_text() == "40\n"
        (group / "pids.max").unlink()  # a real cgroup directory has no files of its own to remove
    assert not group.exists()


def test_the_systemd_driver_or_no_pids_controller_falls_back_to_the_ulimit(tmp_path: Path) -> None:
    (tmp_path / "pids").mkdir()
    with build_pids_cgroup(Engine("systemd"), 40, root=tmp_path) as parent:
        assert parent is None
    with build_pids_cgroup(Engine("cgroupfs"), 40, root=tmp_path / "absent") as parent:
        assert parent is None
