"""The build job: pushed source -> builder container -> slug -> release image -> new release.

Runs on an rq worker. Every line of output goes to the build's Redis stream as it is produced (for
`git push` and the dashboard) and is kept on the build record. A failure of any step leaves the
running release as it was.
"""

from __future__ import annotations

import logging
import shutil
import tarfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import docker
import redis

from wharf.platform.app_manifest import AppManifest
from wharf.platform.builds.app_json import (
    InitialConfig,
    initial_config,
    read_manifest,
    read_test_environment,
)
from wharf.platform.builds.builders import BuildInput, BuiltImage, choose_builder
from wharf.platform.builds.compile import BuildFailed
from wharf.platform.builds.disk_space import ensure_room, out_of_space_message, ran_out_of_space
from wharf.platform.builds.dockerfile_policy import DockerfileRefused
from wharf.platform.builds.heartbeat import beating
from wharf.platform.builds.image import ImageBuildFailed, collect_old_images, image_name, release_labels
from wharf.platform.builds.layers import LayerFailed
from wharf.platform.builds.output import BuildOutput
from wharf.platform.builds.relayed_compile import build_cache_key
from wharf.platform.builds.tenant_files import UnsafeTenantFile, check_tree_members
from wharf.platform.db import session_scope, utcnow
from wharf.platform.logs.platform_lines import platform_lines_for
from wharf.platform.models import App, Build, User
from wharf.platform.progress import BuildEnd, forget_deploy_output
from wharf.platform.records.releases import create_release, current_config, list_releases, lock_app
from wharf.platform.scheduler.notify import wake_scheduler
from wharf.platform.security.crypto import ConfigCipher
from wharf.platform.settings import Settings, get_settings
from wharf.platform.testphase.images import keep_failed_run_image
from wharf.platform.testphase.manifest import TestEnvironment
from wharf.platform.testphase.phase import PhaseResult, run_build_tests
from wharf.platform.testphase.records import record_release_of_run, set_test_run_image

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BuildJob:
    build_id: int
    app_name: str
    commit: str
    config: dict[str, str]
    version_hint: int
    work_dir: Path
    cache_key: str
    first_deploy: bool = False
    skip_tests: bool = False


def _unpack_source(job: BuildJob) -> Path:
    """The pushed tree, unpacked; a link leaving the tree (or any path doing so) is refused by name."""
    source = job.work_dir / "source"
    if source.exists():
        shutil.rmtree(source)
    source.mkdir(parents=True, mode=0o700)
    with tarfile.open(job.work_dir / "source.tar") as archive:
        members = [member for member in archive.getmembers() if member.name != "pax_global_header"]
        check_tree_members(members)
        try:
            archive.extractall(source, members=members, filter="data")
        except tarfile.FilterError as error:
            raise BuildFailed(
                f"The pushed tree cannot be unpacked safely: {error}. Remove that file from git."
            ) from error
    return source


@dataclass(frozen=True)
class BuiltRelease:
    built: BuiltImage
    manifest: AppManifest
    tests: TestEnvironment | None


def _build_image(job: BuildJob, settings: Settings, output: BuildOutput) -> BuiltRelease:
    source = _unpack_source(job)
    manifest = read_manifest(source)
    tests = read_test_environment(source)
    initial_config(manifest, job.config, first_deploy=job.first_deploy)  # a missing required var fails fast
    build = BuildInput(
        app_name=job.app_name,
        build_id=job.build_id,
        commit=job.commit,
        cache_key=job.cache_key,
        config=job.config,
        source=source,
        work_dir=job.work_dir,
        labels=release_labels(app_name=job.app_name, version=job.version_hint, commit=job.commit),
    )
    return BuiltRelease(
        choose_builder(source, job.config).build(build, settings, output.write), manifest, tests
    )


def _test_phase(job: BuildJob, settings: Settings, built: BuiltRelease, output: BuildOutput) -> int | None:
    """Run app.json's tests against the built image; the run's id, or BuildFailed when they fail."""
    if built.tests is None:
        return None
    result: PhaseResult = run_build_tests(
        settings,
        build_id=job.build_id,
        image=built.built.tag,
        environment=built.tests,
        skip=job.skip_tests,
        write=output.write,
    )
    if result.passed:
        if result.status == "succeeded":
            output.write(f"-----> Tests passed (test run {result.number})")
        return result.run_id
    kept = keep_failed_run_image(
        built_tag=built.built.tag, repository=image_name(job.app_name), number=result.number
    )
    set_test_run_image(settings.resolved_database_url, result.run_id, kept)
    raise BuildFailed(
        f"{result.message} (test run {result.number}); see it with `wharf ci:info {result.number} "
        f"-a {job.app_name}`."
    )


def _load_job(settings: Settings, cipher: ConfigCipher, build_id: int, skip_tests: bool) -> BuildJob:
    with session_scope(settings.resolved_database_url) as session:
        build = session.get(Build, build_id)
        if build is None:
            raise LookupError(f"build {build_id} does not exist")
        app = session.get(App, build.app_id)
        assert app is not None
        build.status = "building"
        return BuildJob(
            build_id=build_id,
            app_name=app.name,
            commit=build.commit,
            config=current_config(session=session, cipher=cipher, app=app),
            version_hint=app.release_counter + 1,
            work_dir=build_dir(settings, build_id),
            cache_key=build_cache_key(settings.installation_id, app.id, app.created_at),
            first_deploy=app.current_release_version is None,
            skip_tests=skip_tests,
        )


def _tag_release_image(built_tag: str, app_name: str, version: int) -> tuple[str, str]:
    """The release's image tag and the Docker image id it points at."""
    client = docker.from_env()
    try:
        image = client.images.get(built_tag)
        image.tag(image_name(app_name), tag=f"v{version}")
        client.images.remove(built_tag)
    finally:
        client.close()
    return f"{image_name(app_name)}:v{version}", str(image.id)


def push_release_image(settings: Settings, app_name: str, version: int, output: BuildOutput) -> None:
    """On a swarm with a registry, the release image goes there for every node to pull. A failed push
    fails no build: the Swarm runtime pushes again when it starts the release's dynos."""
    if settings.wharf_runtime != "swarm" or not settings.wharf_registry:
        return
    from wharf.platform.registry.api import RegistryError
    from wharf.platform.registry.release_images import release_images_for

    output.write(f"-----> Pushing the release image to the registry ({settings.wharf_registry})")
    client = docker.from_env()
    try:
        images = release_images_for(client, settings.wharf_registry, settings.wharf_data_dir)
        images.reference(
            f"{image_name(app_name)}:v{version}", on_output=lambda line: output.write("       " + line)
        )
    except (RegistryError, docker.errors.DockerException) as error:
        output.write(f" !     The push failed ({error}); the dynos' start pushes it again.")
    finally:
        client.close()


def _record_release(
    settings: Settings,
    cipher: ConfigCipher,
    job: BuildJob,
    built: BuiltImage,
    manifest: AppManifest,
    client: redis.Redis[bytes],
    output: BuildOutput,
    test_run_id: int | None = None,
) -> tuple[int, set[int]]:
    """Create the release and tag its image; returns its version and the versions whose images to keep.

    The release is committed "pending": the scheduler deploys it and reports on its deploy stream,
    which is cleared here, before the release can be seen, so a follower never reads a stale one.
    On the app's first deploy, app.json's `env` fills the config vars that are not set yet.
    """
    limit = settings.quotas.process_types_per_app
    if len(built.process_types) > limit:
        raise BuildFailed(
            f"The Procfile declares {len(built.process_types)} process types, over the limit of {limit} per "
            "app on this host (WHARF_MAX_PROCESS_TYPES_PER_APP). Merge some, or ask the operator to raise it."
        )
    with session_scope(settings.resolved_database_url) as session:
        build = session.get(Build, job.build_id)
        assert build is not None
        app = session.get(App, build.app_id)
        assert app is not None
        actor = session.get(User, build.created_by_id) if build.created_by_id else None
        lock_app(session=session, app=app)
        config = initial_config(
            manifest,
            current_config(session=session, cipher=cipher, app=app),
            first_deploy=app.current_release_version is None,
        )
        _report_initial_config(config, output)
        release = create_release(
            session=session,
            cipher=cipher,
            app=app,
            actor=actor,
            description=f"Deploy {job.commit[:7]}",
            config=config.config,
            build_id=build.id,
            process_types=dict(built.process_types),
            status="pending",
            source="push",
        )
        release.image, release.image_id = _tag_release_image(built.tag, app.name, release.version)
        release.test_run_id = test_run_id
        record_release_of_run(session=session, run_id=test_run_id, release=release)
        forget_deploy_output(client, app.name, release.version)
        build.release_version = release.version
        build.image = release.image
        build.buildpacks = built.buildpacks
        build.process_types = dict(built.process_types)
        build.slug_bytes = built.slug_bytes
        build.image_bytes = built.image_bytes
        keep = {
            r.version for r in list_releases(session=session, app=app, limit=settings.wharf_keep_releases)
        }
        if app.current_release_version:
            keep.add(app.current_release_version)
        return release.version, keep


def _report_initial_config(config: InitialConfig, output: BuildOutput) -> None:
    if config.generated or config.given:
        output.write("-----> Setting config vars from app.json (first deploy)")
    for name in config.generated:
        output.write(f"       {name}: generated secret")
    for name in config.given:
        output.write(f"       {name}: from app.json")


def _finish(
    settings: Settings,
    build_id: int,
    *,
    status: str,
    failure: str | None,
    output: BuildOutput,
    started: float,
) -> None:
    with session_scope(settings.resolved_database_url) as session:
        build = session.get(Build, build_id)
        if build is not None:
            build.status = status
            build.failure = failure
            build.output = "\n".join(output.lines)
            build.duration_seconds = round(time.monotonic() - started, 3)
            build.finished_at = utcnow()


def run_build(build_id: int, skip_tests: bool = False) -> str:
    """The rq job: the worker's entry point, so the one place a build reads the process settings."""
    return build_with_settings(get_settings(), build_id, skip_tests=skip_tests)


def build_with_settings(settings: Settings, build_id: int, *, skip_tests: bool = False) -> str:
    """Build, test, release and report one build, beating its heartbeat. Returns its final status."""
    client = redis.Redis.from_url(settings.resolved_redis_url)
    with beating(client, build_id):
        return _build_and_report(settings, client, build_id, skip_tests)


def _build_and_report(settings: Settings, client: redis.Redis[bytes], build_id: int, skip_tests: bool) -> str:
    cipher = ConfigCipher(settings.secret_key())
    output = BuildOutput(
        client,
        build_id,
        platform_lines=platform_lines_for(settings),
        database_url=settings.resolved_database_url,
    )
    started = time.monotonic()
    end = BuildEnd(status="failed", release_version=None, message="The build failed.")
    builds_dir = build_dir(settings, build_id).parent
    try:
        job = _load_job(settings, cipher, build_id, skip_tests)
        ensure_room(builds_dir, settings.wharf_build_min_free_mb)
        built = _build_image(job, settings, output)
        test_run_id = _test_phase(job, settings, built, output)
        version, keep = _record_release(
            settings, cipher, job, built.built, built.manifest, client, output, test_run_id
        )
        push_release_image(settings, job.app_name, version, output)
        wake_scheduler(client, job.app_name)
        collect_old_images(app_name=job.app_name, keep_versions=keep)
        end = BuildEnd(status="succeeded", release_version=version, message=f"Released v{version}")
    except (BuildFailed, ImageBuildFailed, LayerFailed, UnsafeTenantFile, DockerfileRefused) as exc:
        output.write(f" !     {exc}")
        message = str(exc).splitlines()[-1][:300]
        if ran_out_of_space(exc, output.lines):
            message = out_of_space_message(builds_dir)
            output.write(f" !     {message}")
        end = BuildEnd(status="failed", release_version=None, message=message)
    except Exception as exc:
        end = _unexpected_failure(build_id, exc, output, builds_dir)
    finally:
        _finish(
            settings,
            build_id,
            status=end.status,
            failure=None if end.status == "succeeded" else end.message,
            output=output,
            started=started,
        )
        output.finish(end)
        remove_build_dir(settings, build_id)
    return end.status


def _unexpected_failure(build_id: int, exc: Exception, output: BuildOutput, builds_dir: Path) -> BuildEnd:
    """A build that failed on an error of Wharf's or the host's; called while handling it."""
    if ran_out_of_space(exc, output.lines):
        log.warning("build %s ran out of disk space: %s", build_id, exc)
        message = out_of_space_message(builds_dir)
        output.write(f" !     {message}")
        return BuildEnd(status="failed", release_version=None, message=message)
    log.exception("build %s failed", build_id)
    output.write(
        " !     Wharf could not finish the build because of an internal error; "
        "the operator's log has details."
    )
    output.write(" !     " + traceback.format_exc().strip().splitlines()[-1])
    return BuildEnd(status="failed", release_version=None, message="internal error during the build")


def build_dir(settings: Settings, build_id: int) -> Path:
    """Where one build works: the pushed tree, the compile workspace (config vars in clear), layers."""
    return settings.wharf_data_dir / "builds" / str(build_id)


def remove_build_dir(settings: Settings, build_id: int) -> None:
    """Delete the build's directory once it is over, succeeded or failed: it holds config vars in clear."""
    shutil.rmtree(build_dir(settings, build_id), ignore_errors=True)
