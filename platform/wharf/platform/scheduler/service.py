"""Running the scheduler as a process: built from settings, stopped cleanly by SIGTERM."""

from __future__ import annotations

import dataclasses
import logging
import signal
import threading

import redis

from wharf.platform.addons.supervisor import run_addon_supervisor
from wharf.platform.runtime import get_runtime
from wharf.platform.scheduler.appjson import docker_health_path
from wharf.platform.scheduler.fleet import SchedulerOptions
from wharf.platform.scheduler.loop import Scheduler
from wharf.platform.security.crypto import ConfigCipher
from wharf.platform.settings import Settings

log = logging.getLogger(__name__)


def build_scheduler(settings: Settings, options: SchedulerOptions | None = None) -> Scheduler:
    options = options or SchedulerOptions()
    if settings.wharf_runtime == "docker":
        options = dataclasses.replace(options, health_path_for=docker_health_path)
    return Scheduler(
        runtime=get_runtime(settings.wharf_runtime, installation=settings.installation_id),
        client=redis.Redis.from_url(settings.resolved_redis_url),
        database_url=settings.resolved_database_url,
        cipher=ConfigCipher(settings.secret_key()),
        options=options,
    )


def run_scheduler(settings: Settings, options: SchedulerOptions | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s scheduler %(levelname)s %(message)s")
    scheduler = build_scheduler(settings, options)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda _signum, _frame: stop.set())
    signal.signal(signal.SIGINT, lambda _signum, _frame: stop.set())
    # Add-ons are supervised beside dynos: health checks, restarts and scheduled backups.
    addons = threading.Thread(
        target=run_addon_supervisor,
        kwargs={"settings": settings, "stop": stop, "say": log.info},
        name="addon-supervisor",
        daemon=True,
    )
    addons.start()
    scheduler.run(stop)
    stop.set()
    addons.join(timeout=30)
