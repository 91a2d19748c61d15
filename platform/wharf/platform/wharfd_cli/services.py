"""`wharfd services`: the background components in one supervised process."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from wharf.platform.wharfd_cli.common import _component_settings, _fail
from wharf.platform.wharfd_cli.components import _run_router

if TYPE_CHECKING:
    import redis

    from wharf.platform.settings import Settings


SERVICES = (
    "scheduler",
    "router",
    "logshipper",
    "builds",
    "docker",
    "authority",
    "gc",
    "mail",
    "alerts",
    "autoscaler",
    "ssh",
    "metrics",
    "waker",
)


def _rebuild_after_restore(settings: Settings, connection: redis.Redis[bytes]) -> None:
    import logging

    from wharf.platform.actions.builds import start_build
    from wharf.platform.host_backup import rebuild_missing_images
    from wharf.platform.repos import deployed_commit

    def start(app_name: str, owner_id: int, repo: Path) -> None:
        commit = deployed_commit(repo)
        if commit is not None:
            start_build(
                settings=settings,
                client=connection,
                app_name=app_name,
                pusher_id=owner_id,
                repo=repo,
                commit=commit,
            )

    rebuild_missing_images(settings, start, say=logging.getLogger("wharf.restore").info)


def _keep_docker_engine(settings: Settings, stop: threading.Event) -> None:
    from wharf.platform.docker_daemon import keep_engine

    keep_engine(settings.wharf_data_dir / "logs" / "dockerd.log", stop)


def _run_build_workers(settings: Settings, stop: threading.Event) -> None:
    import subprocess

    import redis

    from wharf.platform.build_workers import run_build_workers
    from wharf.platform.builds.heartbeat import LostBuilds
    from wharf.platform.builds.lost_test_runs import LostTestRuns
    from wharf.platform.supervisor import component_argv

    redis_url = settings.resolved_redis_url
    # REDIS_URL set: the worker's idle parent loads neither the settings (pydantic) nor SQLAlchemy.
    env = {**os.environ, "REDIS_URL": redis_url}
    connection = redis.Redis.from_url(redis_url)
    _rebuild_after_restore(settings, connection)
    lost_builds = LostBuilds(connection, settings.resolved_database_url)
    lost_test_runs = LostTestRuns(connection, settings.resolved_database_url)
    run_build_workers(
        connection,
        limit=settings.wharf_build_workers,
        spawn=lambda: subprocess.Popen([*component_argv("worker"), "--burst"], env=env),
        stop=stop,
        sweep=lambda: (lost_builds.sweep(), lost_test_runs.sweep()),
    )


def _keep_authority(settings: Settings, stop: threading.Event) -> None:
    """Re-sign the local intermediate with the root well before it expires, and renew the swarm
    registry's certificate when it runs on this host (checked twice a day)."""
    from wharf.platform.security.authority import ensure_authority

    while True:
        ensure_authority(settings.wharf_data_dir)
        if settings.wharf_registry:
            _renew_registry_certificate(settings, settings.wharf_registry)
        if stop.wait(12 * 3600):
            return


def _renew_registry_certificate(settings: Settings, registry: str) -> None:
    import logging

    import docker

    from wharf.platform.registry.server import renew_certificate

    try:
        client = docker.from_env()
        try:
            renew_certificate(client, settings.wharf_data_dir, registry)
        finally:
            client.close()
    except (docker.errors.DockerException, RuntimeError, OSError) as error:
        logging.getLogger("wharf.authority").warning("the registry's certificate was not renewed: %s", error)


def _run_ssh_server(settings: Settings, stop: threading.Event) -> None:
    """`git push ssh://...` (off with WHARF_SSH_ENABLED=false: the thread just waits)."""
    if not settings.wharf_ssh_enabled:
        stop.wait()
        return
    from wharf.platform.sshd.server import run_ssh_server

    run_ssh_server(settings, stop=stop)


def services(
    only: Annotated[str, typer.Option(help=f"Comma-separated, any of: {', '.join(SERVICES)}.")] = ",".join(
        SERVICES
    ),
) -> None:
    """Run the light components as supervised threads of one process, as `wharfd up` does."""
    import logging
    from collections.abc import Callable

    from wharf.platform.alerts.service import run_alerts, run_autoscaler
    from wharf.platform.host_gc import run_gc_schedule
    from wharf.platform.logs.service import run_log_shipper
    from wharf.platform.mail.outbox import run_mail_sender
    from wharf.platform.metrics.service import run_metrics
    from wharf.platform.scheduler.service import run_scheduler
    from wharf.platform.supervisor import Task, run_tasks, tasks_state_path
    from wharf.platform.waker.service import run_waker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(threadName)s %(levelname)s %(message)s")
    settings = _component_settings()
    known: dict[str, Callable[[threading.Event], None]] = {
        "scheduler": lambda stop: run_scheduler(settings, stop=stop),
        "router": lambda stop: _run_router(settings, stop),
        "logshipper": lambda stop: run_log_shipper(settings, stop=stop),
        "builds": lambda stop: _run_build_workers(settings, stop),
        "docker": lambda stop: _keep_docker_engine(settings, stop),
        "authority": lambda stop: _keep_authority(settings, stop),
        "gc": lambda stop: run_gc_schedule(settings, stop),
        "mail": lambda stop: run_mail_sender(settings, stop=stop),
        "alerts": lambda stop: run_alerts(settings, stop),
        "autoscaler": lambda stop: run_autoscaler(settings, stop),
        "ssh": lambda stop: _run_ssh_server(settings, stop),
        "metrics": lambda stop: run_metrics(settings, stop=stop),
        "waker": lambda stop: run_waker(settings, stop),
    }
    chosen = [name.strip() for name in only.split(",") if name.strip()]
    unknown = sorted(set(chosen) - set(known))
    if unknown:
        _fail(f"unknown components: {', '.join(unknown)}; choose from {', '.join(SERVICES)}")
    say = logging.getLogger("wharf.services").info
    state_file = tasks_state_path(settings.supervisor_state_path.parent, os.getpid())
    tasks = [Task(name, known[name]) for name in chosen]
    raise typer.Exit(run_tasks(tasks, say=say, state_file=state_file))
