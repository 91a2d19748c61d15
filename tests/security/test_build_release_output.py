"""What a buildpack's bin/release says is checked before it becomes image ENV or a process type,
and the config vars the builder sees are files only the build user can read.

Run through the real builder (a third-party buildpack given by path, as Wharf itself may) in Docker.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from tests.utils.buildpack_builds import AppBuilder, require_stack_images

pytestmark = pytest.mark.e2e
BUILDPACK = Path(__file__).parent / "fixtures" / "bad_release_buildpack"


@pytest.fixture(scope="module")
def builder(tmp_path_factory: pytest.TempPathFactory) -> AppBuilder:
    require_stack_images()
    return AppBuilder(root=tmp_path_factory.mktemp("security-builds"))


def test_bad_release_names_are_dropped_with_a_warning_and_env_files_are_private(
    builder: AppBuilder, tmp_path: Path
) -> None:
    source = tmp_path / "app"
    source.mkdir()
    (source / "README").write_text("an app for a third-party buildpack\n")
    secret = secrets.token_hex(8)
    build = builder.compile(
        "bad-release", source=source, buildpacks=[str(BUILDPACK)], env={"API_TOKEN": secret}
    )

    assert build.error is None, build.output
    assert build.result is not None
    assert build.result.config_vars == {"GOOD_NAME": "kept"}
    assert build.result.process_types == {"web": "bin/serve"}
    for name in ("'BAD NAME'", "'EVIL\\nUSER root'", "'X=1'", "'LINE_BREAK'", "'NESTED'", "'web;rm'"):
        assert "Ignored the" in build.output and name in build.output, name
    assert "env modes: 700 /env 600 /env/API_TOKEN" in build.output
    assert secret not in build.output
