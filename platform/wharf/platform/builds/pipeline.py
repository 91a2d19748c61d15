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

from wharf.platform.builds.builders import BuildInput, BuiltImage, choose_builder
from wharf.platform.builds.compile import BuildFailed
from wharf.platform.builds.image import ImageBuildFailed, collect_old_images, image_name, release_labels
from wharf.platform.builds.layers import LayerFailed
from wharf.platform.builds.output import BuildOutput
from wharf.platform.db import session_scope, utcnow
from wharf.platform.logs.platform_lines import platform_lines_for
from wharf.platform.models import App, Build, User
from wharf.platform.progress import BuildEnd, forget_deploy_output
from wharf.platform.records.releases import create_release, current_config, list_releases
from wharf.platform.scheduler.notify import wake_scheduler
from wharf.platform.security.crypto import ConfigCipher
from wharf.platform.settings import Settings, get_settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BuildJob:
    build_id: int
    app_name: str
    commit: str
    config: dict[str, str]
    version_hint: int
    work_dir: Path


def _unpack_source(job: BuildJob) -> Path:
    source = job.work_dir / "source"
    if source.exists():
        shutil.rmtree(source)
    source.mkdir(parents=True)
    with tarfile.open(job.work_dir / "source.tar") as archive:
        archive.extractall(source, filter="data")
    return source


def _build_image(job: BuildJob, settings: Settings, output: BuildOutput) -> BuiltImage:
    source = _unpack_source(job)
    build = BuildInput(
        app_name=job.app_name,
        build_id=job.build_id,
        commit=job.commit,
        config=job.config,
        source=source,
        work_dir=job.work_dir,
        labels=release_labels(app_name=job.app_name, version=job.version_hint, commit=job.commit),
    )
    return choose_builder(source, job.config).build(build, settings, output.write)


def _load_job(settings: Settings, cipher: ConfigCipher, build_id: int) -> BuildJob:
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
            work_dir=settings.wharf_data_dir / "builds" / str(build_id),
        )


def _tag_release_image(built_tag: str, app_name: str, version: int) -> str:
    client = docker.from_env()
    try:
        client.images.get(built_tag).tag(image_name(app_name), tag=f"v{version}")
        client.images.remove(built_tag)
    finally:
        client.close()
    return f"{image_name(app_name)}:v{version}"


def _record_release(
    settings: Settings, cipher: ConfigCipher, job: BuildJob, built: BuiltImage, client: redis.Redis[bytes]
) -> tuple[int, set[int]]:
    """Create the release and tag its image; returns its version and the versions whose images to keep.

    The release is committed "pending": the scheduler deploys it and reports on its deploy stream,
    which is cleared here, before the release can be seen, so a follower never reads a stale one.
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
        release = create_release(
            session=session,
            cipher=cipher,
            app=app,
            actor=actor,
            description=f"Deploy {job.commit[:7]}",
            config=current_config(session=session, cipher=cipher, app=app),
            build_id=build.id,
            process_types=dict(built.process_types),
            status="pending",
        )
        release.image = _tag_release_image(built.tag, app.name, release.version)
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


def run_build(build_id: int) -> str:
    """The rq job: the worker's entry point, so the one place a build reads the process settings."""
    return build_with_settings(get_settings(), build_id)


def build_with_settings(settings: Settings, build_id: int) -> str:
    """Build, release and report one build. Returns the build's final status."""
    cipher = ConfigCipher(settings.secret_key())
    client = redis.Redis.from_url(settings.resolved_redis_url)
    output = BuildOutput(
        client,
        build_id,
        platform_lines=platform_lines_for(settings),
        database_url=settings.resolved_database_url,
    )
    started = time.monotonic()
    end = BuildEnd(status="failed", release_version=None, message="The build failed.")
    try:
        job = _load_job(settings, cipher, build_id)
        built = _build_image(job, settings, output)
        version, keep = _record_release(settings, cipher, job, built, client)
        wake_scheduler(client, job.app_name)
        collect_old_images(app_name=job.app_name, keep_versions=keep)
        end = BuildEnd(status="succeeded", release_version=version, message=f"Released v{version}")
    except (BuildFailed, ImageBuildFailed, LayerFailed) as exc:
        output.write(f" !     {exc}")
        end = BuildEnd(status="failed", release_version=None, message=str(exc).splitlines()[-1][:300])
    except Exception:
        log.exception("build %s failed", build_id)
        output.write(
            " !     Wharf could not finish the build because of an internal error; "
            "the operator's log has details."
        )
        output.write(" !     " + traceback.format_exc().strip().splitlines()[-1])
        end = BuildEnd(status="failed", release_version=None, message="internal error during the build")
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
    return end.status
