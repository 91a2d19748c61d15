"""The stack images, built once per machine when missing."""

from __future__ import annotations

import pytest

from tests.utils.buildpack_builds import require_stack_images


@pytest.fixture(scope="session")
def stack_images() -> None:
    require_stack_images()
