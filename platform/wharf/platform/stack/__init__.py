"""Stack images: the Debian run and build images every app is built on and run in."""

from wharf.platform.stack.apt_sources import host_mirrors
from wharf.platform.stack.images import (
    DEFAULT_BUILD_IMAGE,
    DEFAULT_RUN_IMAGE,
    DEFAULT_SUITE,
    StackBuildError,
    StackBuildReport,
    build_stack_images,
    ensure_stack_images,
    stack_images_present,
)

__all__ = [
    "DEFAULT_BUILD_IMAGE",
    "DEFAULT_RUN_IMAGE",
    "DEFAULT_SUITE",
    "StackBuildError",
    "StackBuildReport",
    "build_stack_images",
    "ensure_stack_images",
    "host_mirrors",
    "stack_images_present",
]
