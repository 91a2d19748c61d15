"""Fixtures for the buildpack harness: the stack images and a builder with a cache per fixture app."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.utils.buildpack_builds import AppBuilder, require_stack_images


@pytest.fixture(scope="session")
def stack_images() -> None:
    require_stack_images()


@pytest.fixture(scope="module")
def builder(stack_images: None, tmp_path_factory: pytest.TempPathFactory) -> AppBuilder:
    """Module-scoped so a test can compile an app twice and see the cache from the first compile."""
    return AppBuilder(root=tmp_path_factory.mktemp("buildpacks"))


@pytest.fixture
def slug_dir(tmp_path: Path) -> Path:
    return tmp_path
