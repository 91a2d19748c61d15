"""Choosing the builder: an explicit BUILDPACK_URL wins, else a Dockerfile means docker build."""

from __future__ import annotations

from pathlib import Path

import pytest

from wharf.platform.builds.builders import (
    BUILDERS,
    BuildpacksBuilder,
    DockerfileBuilder,
    builder_named,
    choose_builder,
)


def source_with(tmp_path: Path, *names: str) -> Path:
    for name in names:
        (tmp_path / name).write_text("")
    return tmp_path


def test_a_dockerfile_without_buildpack_url_is_built_with_docker(tmp_path: Path) -> None:
    source = source_with(tmp_path, "Dockerfile", "requirements.txt")
    assert isinstance(choose_builder(source, {}), DockerfileBuilder)
    assert choose_builder(source, {"OTHER": "x"}).name == "dockerfile"


def test_a_buildpack_url_chooses_buildpacks_even_with_a_dockerfile(tmp_path: Path) -> None:
    source = source_with(tmp_path, "Dockerfile")
    builder = choose_builder(source, {"BUILDPACK_URL": "https://example.com/bp.tgz"})
    assert isinstance(builder, BuildpacksBuilder)


def test_an_empty_buildpack_url_is_no_choice(tmp_path: Path) -> None:
    source = source_with(tmp_path, "Dockerfile")
    assert choose_builder(source, {"BUILDPACK_URL": ""}).name == "dockerfile"


@pytest.mark.parametrize("config", [{}, {"BUILDPACK_URL": "python"}])
def test_source_without_a_dockerfile_is_built_with_buildpacks(tmp_path: Path, config: dict[str, str]) -> None:
    source = source_with(tmp_path, "requirements.txt", "Procfile")
    assert choose_builder(source, config).name == "buildpacks"


def test_only_a_file_named_dockerfile_counts(tmp_path: Path) -> None:
    source = source_with(tmp_path, "Dockerfile.dev")
    assert choose_builder(source, {}).name == "buildpacks"


def test_every_builder_is_found_by_its_name_and_buildpacks_is_the_fallback(tmp_path: Path) -> None:
    assert [builder_named(b.name) for b in BUILDERS] == list(BUILDERS)
    assert BUILDERS[-1].detects(tmp_path)
    with pytest.raises(LookupError, match="choose one of dockerfile, buildpacks"):
        builder_named("herokuish")
