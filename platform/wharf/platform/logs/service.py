"""`wharfd logshipper`: the dyno log shipper, the drain forwarder and the age sweep, in one process."""

from __future__ import annotations

import logging
import signal
import threading

import redis

from wharf.platform.db import session_scope
from wharf.platform.implementations import choose
from wharf.platform.logs.drain_worker import DrainManager, DrainWorker
from wharf.platform.logs.drains import DrainSpec, all_drains
from wharf.platform.logs.shipper import LogShipper
from wharf.platform.logs.stream import LogWriter, sweep_old_lines
from wharf.platform.settings import Settings

logger = logging.getLogger(__name__)
SWEEP_INTERVAL_SECONDS = 600.0


def settings_log_writer(settings: Settings) -> LogWriter:
    client = redis.Redis.from_url(settings.resolved_redis_url, socket_timeout=30, health_check_interval=30)
    return LogWriter(
        client, max_lines=settings.wharf_log_max_lines, max_age_hours=settings.wharf_log_max_age_hours
    )


def drain_manager(settings: Settings, writer: LogWriter) -> DrainManager:
    def load() -> list[DrainSpec]:
        with session_scope(settings.resolved_database_url) as session:
            return all_drains(session=session)

    def make_worker(spec: DrainSpec) -> DrainWorker:
        return DrainWorker(
            spec,
            writer,
            capacity=settings.wharf_log_drain_buffer_lines,
            allow_private=settings.wharf_log_drain_allow_private,
        )

    return DrainManager(load, make_worker)


def sweep_forever(writer: LogWriter, stop: threading.Event) -> None:
    """Age out lines of apps that no longer write (writes trim their own stream as they go)."""
    while not stop.wait(SWEEP_INTERVAL_SECONDS):
        try:
            sweep_old_lines(writer.client, writer.max_age_hours)
        except redis.RedisError as error:
            logger.warning("log age sweep failed: %s", error)


def run_log_shipper(settings: Settings, stop: threading.Event | None = None) -> None:
    """Run until `stop` is set; without one, until SIGTERM or SIGINT (main thread only)."""
    if stop is None:
        stop = own = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: own.set())
    writer = settings_log_writer(settings)
    threads = [
        threading.Thread(target=drain_manager(settings, writer).run, args=(stop,), name="drains"),
        threading.Thread(target=sweep_forever, args=(writer, stop), name="log-sweep", daemon=True),
    ]
    make_shipper = choose("dyno_log_shipper", settings.wharf_runtime)
    shipper = make_shipper(writer, installation=settings.installation_id)
    if shipper is not None:
        if not isinstance(shipper, LogShipper):
            raise TypeError(f"dyno_log_shipper {settings.wharf_runtime!r} built {shipper!r}")
        threads.append(threading.Thread(target=shipper.run, name="log-shipper"))
    for thread in threads:
        thread.start()
    stop.wait()
    if shipper is not None:
        shipper.stop.set()
    for thread in threads:
        if not thread.daemon:
            thread.join(timeout=30)
