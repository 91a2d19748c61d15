"""From pushed source to a release image with buildpacks, reusing the last build's output when it can.

A full build compiles the app in a builder container, then layers the buildpack output and the
source on the run image (see ``layers``). When the last build was reusable and nothing its
buildpacks read has changed (see ``reuse``), the builder is not started at all: the new source is
layered on the recorded dependency image, which is what Docker's layer cache does for a Dockerfile
that copies its dependency list first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import docker

from wharf.platform.builds.compile import (
    BuildLimits,
    OutputCallback,
    check_slug_size,
    compile_slug,
    default_buildpacks_dir,
    strip_slugignored,
)
from wharf.platform.builds.layers import (
    LAYER_LABEL,
    commit_layer,
    image_ids,
    image_size,
    relative_paths,
    split_app_tree,
    write_layer_tar,
)
from wharf.platform.builds.reuse import ReuseRecord, ReuseStore, reuse_key, tree_digest

DEPENDENCIES_TAG = "dependencies"


@dataclass(frozen=True)
class SlugImage:
    """A release image built with buildpacks."""

    tag: str
    buildpacks: list[str]
    process_types: dict[str, str]
    slug_bytes: int
    image_bytes: int
    reused: bool


@dataclass(frozen=True)
class SlugBuildSettings:
    app_name: str
    repository: str
    run_image: str
    build_image: str
    cache_dir: Path
    reuse: ReuseStore
    limits: BuildLimits = field(default_factory=BuildLimits)
    buildpacks_dir: Path | None = None


def build_slug_image(
    *,
    settings: SlugBuildSettings,
    source: Path,
    work_dir: Path,
    config: Mapping[str, str],
    tag: str,
    labels: Mapping[str, str],
    on_output: OutputCallback,
    source_version: str | None = None,
) -> SlugImage:
    """Build SOURCE (a scratch copy: .slugignore is applied to it) into the image REPOSITORY:TAG."""
    client = docker.from_env()
    try:
        return _build(
            client,
            settings=settings,
            source=source,
            work_dir=work_dir,
            config=config,
            tag=tag,
            labels=labels,
            on_output=on_output,
            source_version=source_version,
        )
    finally:
        client.close()


def _build(
    client: docker.DockerClient,
    *,
    settings: SlugBuildSettings,
    source: Path,
    work_dir: Path,
    config: Mapping[str, str],
    tag: str,
    labels: Mapping[str, str],
    on_output: OutputCallback,
    source_version: str | None = None,
) -> SlugImage:
    work_dir.mkdir(parents=True, exist_ok=True)
    strip_slugignored(source, on_output)
    buildpacks_dir = settings.buildpacks_dir or default_buildpacks_dir()
    images = [image or "absent" for image in image_ids(client, settings.build_image, settings.run_image)]
    digest = tree_digest(buildpacks_dir)

    def key_for(inputs: Sequence[str]) -> str:
        return reuse_key(
            source_dir=source, inputs=inputs, config=config, images=images, buildpacks_digest=digest
        )

    release_labels = {**labels, LAYER_LABEL: "release"}
    source_tar = work_dir / "source.tar"

    def commit_release(base: str, env: Mapping[str, str]) -> int:
        commit_layer(
            client,
            base=base,
            tar_path=source_tar,
            repository=settings.repository,
            tag=tag,
            env=env,
            labels=release_labels,
        )
        return image_size(client, f"{settings.repository}:{tag}")

    record = settings.reuse.load(settings.app_name)
    reusable = record is not None and key_for(record.inputs) == record.key
    if (
        record is not None
        and reusable
        and image_ids(client, record.dependency_image) == [record.dependency_image]
    ):
        on_output(f"-----> {', '.join(record.buildpacks)} app: nothing the buildpacks read has changed")
        on_output("       Reusing the last build's dependencies and adding the new source")
        source_bytes = write_layer_tar(source, relative_paths(source), source_tar)
        check_slug_size(source_bytes + record.dependency_bytes, settings.limits)
        return SlugImage(
            tag=f"{settings.repository}:{tag}",
            buildpacks=record.buildpacks,
            process_types=record.process_types,
            slug_bytes=source_bytes + record.dependency_bytes,
            image_bytes=commit_release(record.dependency_image, record.config_vars),
            reused=True,
        )

    result = compile_slug(
        source_dir=source,
        cache_dir=settings.cache_dir,
        work_dir=work_dir / "compile",
        env=config,
        on_output=on_output,
        build_image=settings.build_image,
        buildpacks_dir=buildpacks_dir,
        limits=settings.limits,
        source_version=source_version,
        pack_slug=False,
    )
    on_output("-----> Building the release image")
    tree = split_app_tree(result.app_dir, source)
    output_tar = work_dir / "buildpack-output.tar"
    output_bytes = write_layer_tar(result.app_dir, tree.buildpack_output, output_tar)
    source_bytes = write_layer_tar(result.app_dir, tree.source, source_tar)
    check_slug_size(output_bytes + source_bytes, settings.limits)
    dependency_image = commit_layer(
        client,
        base=settings.run_image,
        tar_path=output_tar,
        repository=settings.repository,
        tag=DEPENDENCIES_TAG,
        labels={**labels, LAYER_LABEL: DEPENDENCIES_TAG},
    )
    image_bytes = commit_release(dependency_image, result.config_vars)
    if result.reuse_inputs is None:
        settings.reuse.forget(settings.app_name)
    else:
        settings.reuse.save(
            settings.app_name,
            ReuseRecord(
                key=key_for(result.reuse_inputs),
                inputs=result.reuse_inputs,
                dependency_image=dependency_image,
                dependency_bytes=output_bytes,
                buildpacks=result.buildpacks,
                process_types=result.process_types,
                config_vars=result.config_vars,
            ),
        )
    return SlugImage(
        tag=f"{settings.repository}:{tag}",
        buildpacks=result.buildpacks,
        process_types=result.process_types,
        slug_bytes=output_bytes + source_bytes,
        image_bytes=image_bytes,
        reused=False,
    )
