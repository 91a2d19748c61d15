"""A host whose disk is full or nearly so: a build is refused under the floor, running out of space is
told as such (whichever layer noticed it), and `wharfd status` warns before builds are refused."""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

import pytest

from wharf.platform.builds.compile import BuildFailed
from wharf.platform.builds.disk_space import MB, ensure_room, free_bytes, ran_out_of_space
from wharf.platform.operations import CRITICAL, OK, WARNING, disk_check


def test_a_build_is_refused_under_the_floor_with_what_to_do(tmp_path: Path) -> None:
    free_mb = shutil.disk_usage(tmp_path).free // MB
    ensure_room(tmp_path / "builds", min_free_mb=1)
    ensure_room(tmp_path / "builds", min_free_mb=0)
    with pytest.raises(BuildFailed) as refused:
        ensure_room(tmp_path / "builds", min_free_mb=free_mb + 10)
    text = str(refused.value)
    assert "disk is nearly full" in text and "WHARF_BUILD_MIN_FREE_MB" in text
    assert "The running release keeps serving" in text and "wharfd gc" in text
    assert abs(free_bytes(tmp_path / "not" / "made" / "yet") // MB - free_mb) < 64


def test_running_out_of_space_is_recognised_wherever_it_shows() -> None:
    full = OSError(errno.ENOSPC, "No space left on device")
    try:
        try:
            raise full
        except OSError as error:
            raise RuntimeError("unpacking the source failed") from error
    except RuntimeError as wrapped:
        assert ran_out_of_space(wrapped, [])
    assert ran_out_of_space(BuildFailed("write /var/lib/docker/tmp: no space left on device"), [])
    buildpack = ["-----> Installing", "cp: error writing 'big': No space left on device"]
    assert ran_out_of_space(BuildFailed("a buildpack exited with status 1"), buildpack)
    assert not ran_out_of_space(BuildFailed("a buildpack exited with status 1"), ["-----> Installing"])
    assert not ran_out_of_space(OSError(errno.EACCES, "Permission denied"), [])


def test_status_warns_as_the_disk_fills_and_is_critical_once_builds_are_refused(tmp_path: Path) -> None:
    usage = shutil.disk_usage(tmp_path)
    free_mb = usage.free // MB
    if usage.free < 0.2 * usage.total:
        pytest.skip("this host's disk is itself nearly full")
    assert disk_check(tmp_path, build_floor_mb=1).verdict == OK
    warned = disk_check(tmp_path, build_floor_mb=free_mb // 2)
    assert warned.verdict == WARNING and "nearly full" in warned.detail and "wharfd gc" in warned.detail
    critical = disk_check(tmp_path, build_floor_mb=free_mb + 10)
    assert critical.verdict == CRITICAL and "builds are refused" in critical.detail
