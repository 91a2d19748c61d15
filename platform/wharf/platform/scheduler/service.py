"""Running the scheduler as a process: built from settings, stopped cleanly by SIGTERM."""

from __future__ import annotations

import dataclasses
import logging
import signal
import threading
from collections.abc import Callable
from typing import cast

import redis

from wharf.platform.addons.upkeep import run_addon_upkeep
from wharf.platform.app_manifest import AppManifest
from wharf.platform.implementations import choose
from wharf.platform.runtime import Runtime, get_runtime
from wharf.platform.scheduler.fleet import SchedulerOptions
from wharf.platform.scheduler.loop import Scheduler
from wharf.platform.security.crypto import ConfigCipher
from wharf.platform.settings import Settings

log = logging.getLogger(__name__)


def build_scheduler(
    settings: Settings, options: SchedulerOptions | None = None, *, runtime: Runtime | None = None
) -> Scheduler:
    """The scheduler of `settings` on their runtime (or on `runtime`, a move onto that runtime)."""
    options = options or SchedulerOptions()
    chosen = choose("release_manifest", settings.wharf_runtime)
    manifest_for = cast("Callable[[str], AppManifest]", chosen)
    options = dataclasses.replace(options, manifest_for=manifest_for, quotas=settings.quotas)
    return Scheduler(
        runtime=runtime or get_runtime(settings.wharf_runtime, installation=settings.installation_id),
        client=redis.Redis.from_url(settings.resolved_redis_url),
        database_url=settings.resolved_database_url,
        cipher=ConfigCipher(settings.secret_key()),
        options=options,
        runtime_name=settings.wharf_runtime,
    )


def run_scheduler(
    settings: Settings, options: SchedulerOptions | None = None, stop: threading.Event | None = None
) -> None:
    """Run until `stop` is set; without one, until SIGTERM or SIGINT (main thread only)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s scheduler %(levelname)s %(message)s")
    scheduler = build_scheduler(settings, options)
    if stop is None:
        stop = own = threading.Event()
        signal.signal(signal.SIGTERM, lambda _signum, _frame: own.set())
        signal.signal(signal.SIGINT, lambda _signum, _frame: own.set())
    # Add-on upkeep runs beside dynos: health checks, restarts and scheduled backups. They stop with
    # the scheduler, without setting `stop`, which may be shared with other components of the process.
    done = threading.Event()
    addons = threading.Thread(
        target=run_addon_upkeep,
        kwargs={"settings": settings, "stop": done, "say": log.info},
        name="addon-upkeep",
        daemon=True,
    )
    addons.start()
    try:
        scheduler.run(stop)
    finally:
        done.set()
        addons.join(timeout=30)
