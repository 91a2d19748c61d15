"""The builders that turn pushed source into a release image, and the one rule that picks one.

As in Dokku's builder plugins, each builder says whether it detects the source, and an explicit
choice wins over detection: a BUILDPACK_URL config var chooses the buildpacks builder. Otherwise the
builders are asked in order (`BUILDERS`) and the first that detects the source builds it; the
buildpacks builder detects everything, so it is the fallback. Today that gives: a Dockerfile and no
BUILDPACK_URL -> `dockerfile`, anything else -> `buildpacks`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Protocol

from wharf.platform.builds.compile import BuildLimits, OutputCallback
from wharf.platform.builds.compile_placement import compiler_for
from wharf.platform.builds.dockerfile_policy import BasePolicy
from wharf.platform.builds.image import DockerfileBuild, build_dockerfile_image, image_name
from wharf.platform.builds.processes import read_procfile
from wharf.platform.builds.release_image import SlugBuildSettings, build_slug_image
from wharf.platform.builds.reuse import ReuseStore
from wharf.platform.languages.prepare import LanguageSettings
from wharf.platform.settings import Settings


@dataclass(frozen=True)
class BuiltImage:
    tag: str
    buildpacks: list[str]
    process_types: dict[str, str]
    slug_bytes: int | None
    image_bytes: int


@dataclass(frozen=True)
class BuildInput:
    """One build's unpacked source and where its image goes."""

    app_name: str
    build_id: int
    commit: str
    # Names the app's build cache on builder nodes (relayed_compile.build_cache_key).
    cache_key: str
    config: Mapping[str, str]
    source: Path
    work_dir: Path
    labels: Mapping[str, str]

    @property
    def build_tag(self) -> str:
        return f"build-{self.build_id}"


class Builder(Protocol):
    name: str

    def detects(self, source: Path) -> bool:
        """Whether this builder can build SOURCE without being asked to."""
        ...

    def build(self, build: BuildInput, settings: Settings, on_output: OutputCallback) -> BuiltImage: ...


class DockerfileBuilder:
    name = "dockerfile"

    def detects(self, source: Path) -> bool:
        return (source / "Dockerfile").exists()

    def build(self, build: BuildInput, settings: Settings, on_output: OutputCallback) -> BuiltImage:
        on_output("-----> Dockerfile app detected: building it with docker build")
        tag = f"{image_name(build.app_name)}:{build.build_tag}"
        limits = BuildLimits()
        policy = BasePolicy(
            stack_images=(settings.wharf_run_image, settings.wharf_build_image),
            app_repository=image_name(build.app_name),
        )
        size, command = build_dockerfile_image(
            DockerfileBuild(
                source_dir=build.source,
                tag=tag,
                labels=build.labels,
                policy=policy,
                memory_bytes=limits.memory_bytes,
                nano_cpus=int(limits.cpus * 1e9),
                pids=limits.pids,
                timeout_seconds=limits.timeout_seconds,
                network=limits.network,
            ),
            on_output,
        )
        processes = read_procfile(build.source) or ({"web": " ".join(command)} if command else {})
        return BuiltImage(
            tag=tag, buildpacks=["dockerfile"], process_types=processes, slug_bytes=None, image_bytes=size
        )


class BuildpacksBuilder:
    name = "buildpacks"

    def detects(self, source: Path) -> bool:
        return True

    def build(self, build: BuildInput, settings: Settings, on_output: OutputCallback) -> BuiltImage:
        limits = BuildLimits()
        slug_image = build_slug_image(
            settings=SlugBuildSettings(
                app_name=build.app_name,
                repository=image_name(build.app_name),
                run_image=settings.wharf_run_image,
                build_image=settings.wharf_build_image,
                cache_dir=settings.wharf_data_dir / "cache" / build.app_name,
                reuse=ReuseStore(settings.wharf_data_dir / "build-reuse"),
                limits=limits,
                languages=LanguageSettings(
                    runtimes_dir=settings.runtimes_dir, node_index=settings.wharf_node_index
                ),
                choose_compiler=partial(compiler_for, settings, build.app_name, build.cache_key, limits),
            ),
            source=build.source,
            work_dir=build.work_dir / "slug",
            config=build.config,
            tag=build.build_tag,
            labels=build.labels,
            on_output=on_output,
            source_version=build.commit,
        )
        on_output(f"       Done: {slug_image.image_bytes / 1e6:.0f} MB")
        return BuiltImage(
            tag=slug_image.tag,
            buildpacks=slug_image.buildpacks,
            process_types=slug_image.process_types,
            slug_bytes=slug_image.slug_bytes,
            image_bytes=slug_image.image_bytes,
        )


# Asked in this order; the last one detects every source.
BUILDERS: tuple[Builder, ...] = (DockerfileBuilder(), BuildpacksBuilder())


def builder_named(name: str) -> Builder:
    for builder in BUILDERS:
        if builder.name == name:
            return builder
    raise LookupError(f"unknown builder {name!r}: choose one of {', '.join(b.name for b in BUILDERS)}")


def explicit_builder(config: Mapping[str, str]) -> str | None:
    """The builder the app's config asks for, if any: a BUILDPACK_URL asks for buildpacks."""
    return BuildpacksBuilder.name if config.get("BUILDPACK_URL") else None


def choose_builder(source: Path, config: Mapping[str, str]) -> Builder:
    """The builder for SOURCE: the one the config asks for, else the first that detects it."""
    asked = explicit_builder(config)
    if asked is not None:
        return builder_named(asked)
    return next(builder for builder in BUILDERS if builder.detects(source))
