"""From pushed source to a release image with buildpacks, reusing the last build's output when it can.

A full build compiles the app in a builder container, then layers the buildpack output and the
source on the run image (see ``layers``). When the last build was reusable and nothing its
buildpacks read has changed (see ``reuse``), the builder is not started at all: the new source is
layered on the recorded dependency image, which is what Docker's layer cache does for a Dockerfile
that copies its dependency list first.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import docker

from wharf.platform.builds.compile import (
    BuildLimits,
    Compiler,
    CompileRequest,
    CompileResult,
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
from wharf.platform.languages.prepare import LanguageSettings

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
    languages: LanguageSettings | None = None
    # Asked when the builder must run: another node's compiler, or None for this host's.
    choose_compiler: Callable[[OutputCallback], Compiler | None] | None = None


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
        return _SlugBuild(
            client=client,
            settings=settings,
            source=source,
            work_dir=work_dir,
            config=config,
            tag=tag,
            labels=labels,
            on_output=on_output,
            source_version=source_version,
        ).run()
    finally:
        client.close()


@dataclass
class _SlugBuild:
    """One build of a release image: reuse the last build's dependencies when nothing they read changed,
    else compile in a builder container and layer its output."""

    client: docker.DockerClient
    settings: SlugBuildSettings
    source: Path
    work_dir: Path
    config: Mapping[str, str]
    tag: str
    labels: Mapping[str, str]
    on_output: OutputCallback
    source_version: str | None
    buildpacks_dir: Path = field(init=False)
    images: list[str] = field(init=False)
    digest: str = field(init=False)

    def run(self) -> SlugImage:
        settings = self.settings
        self.work_dir.mkdir(parents=True, exist_ok=True)
        strip_slugignored(self.source, self.on_output)
        self.buildpacks_dir = settings.buildpacks_dir or default_buildpacks_dir()
        self.images = [
            image or "absent" for image in image_ids(self.client, settings.build_image, settings.run_image)
        ]
        self.digest = tree_digest(self.buildpacks_dir)
        record = settings.reuse.load(settings.app_name)
        reusable = record is not None and self._key_for(record.inputs) == record.key
        if (
            record is not None
            and reusable
            and image_ids(self.client, record.dependency_image) == [record.dependency_image]
        ):
            return self._reuse(record)
        return self._compile()

    @property
    def _release_tag(self) -> str:
        return f"{self.settings.repository}:{self.tag}"

    @property
    def _source_tar(self) -> Path:
        return self.work_dir / "source.tar"

    def _key_for(self, inputs: Sequence[str]) -> str:
        return reuse_key(
            source_dir=self.source,
            inputs=inputs,
            config=self.config,
            images=self.images,
            buildpacks_digest=self.digest,
        )

    def _commit_release(self, base: str, env: Mapping[str, str]) -> int:
        """The release image: the source layer on BASE; returns its size."""
        commit_layer(
            self.client,
            base=base,
            tar_path=self._source_tar,
            repository=self.settings.repository,
            tag=self.tag,
            env=env,
            labels={**self.labels, LAYER_LABEL: "release"},
        )
        return image_size(self.client, self._release_tag)

    def _reuse(self, record: ReuseRecord) -> SlugImage:
        """Layer the new source on the recorded dependency image; the builder is not started."""
        self.on_output(f"-----> {', '.join(record.buildpacks)} app: nothing the buildpacks read has changed")
        self.on_output("       Reusing the last build's dependencies and adding the new source")
        source_bytes = write_layer_tar(self.source, relative_paths(self.source), self._source_tar)
        check_slug_size(source_bytes + record.dependency_bytes, self.settings.limits)
        return SlugImage(
            tag=self._release_tag,
            buildpacks=record.buildpacks,
            process_types=record.process_types,
            slug_bytes=source_bytes + record.dependency_bytes,
            image_bytes=self._commit_release(record.dependency_image, record.config_vars),
            reused=True,
        )

    def _compile(self) -> SlugImage:
        """Compile in the builder, commit the dependency and release layers, remember what to reuse."""
        settings = self.settings
        request = CompileRequest(
            source_dir=self.source,
            cache_dir=settings.cache_dir,
            work_dir=self.work_dir / "compile",
            env=self.config,
            build_image=settings.build_image,
            buildpacks_dir=self.buildpacks_dir,
            limits=settings.limits,
            source_version=self.source_version,
            pack_slug=False,
            languages=settings.languages,
        )
        chosen = settings.choose_compiler(self.on_output) if settings.choose_compiler else None
        result = (chosen or compile_slug)(request, on_output=self.on_output)
        self.on_output("-----> Building the release image")
        tree = split_app_tree(result.app_dir, self.source)
        output_tar = self.work_dir / "buildpack-output.tar"
        output_bytes = write_layer_tar(result.app_dir, tree.buildpack_output, output_tar)
        source_bytes = write_layer_tar(result.app_dir, tree.source, self._source_tar)
        check_slug_size(output_bytes + source_bytes, settings.limits)
        dependency_image = commit_layer(
            self.client,
            base=settings.run_image,
            tar_path=output_tar,
            repository=settings.repository,
            tag=DEPENDENCIES_TAG,
            labels={**self.labels, LAYER_LABEL: DEPENDENCIES_TAG},
        )
        image_bytes = self._commit_release(dependency_image, result.config_vars)
        self._remember(result, dependency_image, output_bytes)
        return SlugImage(
            tag=self._release_tag,
            buildpacks=result.buildpacks,
            process_types=result.process_types,
            slug_bytes=output_bytes + source_bytes,
            image_bytes=image_bytes,
            reused=False,
        )

    def _remember(self, result: CompileResult, dependency_image: str, output_bytes: int) -> None:
        """Record the dependency image for the next build, or forget it when reuse is not safe."""
        settings = self.settings
        if result.reuse_inputs is None:
            settings.reuse.forget(settings.app_name)
            return
        settings.reuse.save(
            settings.app_name,
            ReuseRecord(
                key=self._key_for(result.reuse_inputs),
                inputs=result.reuse_inputs,
                dependency_image=dependency_image,
                dependency_bytes=output_bytes,
                buildpacks=result.buildpacks,
                process_types=result.process_types,
                config_vars=result.config_vars,
            ),
        )
