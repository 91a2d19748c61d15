"""The metrics component of `wharfd services`: the dyno stats collector and the statsd listener."""

from __future__ import annotations

import logging
import threading

from wharf.platform.metrics.dynos import DynoCollector, DynoDirectory
from wharf.platform.metrics.statsd import StatsdAggregator, StatsdListener
from wharf.platform.metrics.store import MetricsStore
from wharf.platform.settings import Settings

logger = logging.getLogger(__name__)


def run_metrics(settings: Settings, *, stop: threading.Event) -> None:
    """Collect dyno stats and receive statsd packets until `stop` is set (Docker runtime only)."""
    if settings.wharf_runtime != "docker":
        stop.wait()
        return
    import docker

    api = docker.from_env(timeout=30).api
    store = MetricsStore.from_settings(settings)
    directory = DynoDirectory(api, installation=settings.installation_id)
    collector = DynoCollector(directory, store, interval=settings.wharf_metrics_dyno_interval)
    threads = [threading.Thread(target=collector.run, args=(stop,), name="dyno-metrics", daemon=True)]
    if settings.wharf_statsd_port:
        listener = StatsdListener(
            StatsdAggregator(store, max_series=settings.wharf_statsd_max_series),
            directory.app_of,
            host=settings.wharf_statsd_bind,
            port=settings.wharf_statsd_port,
        )
        logger.info("statsd listening on %s:%d (udp)", settings.wharf_statsd_bind, listener.port)
        threads.append(threading.Thread(target=listener.serve, args=(stop,), name="statsd", daemon=True))
    for thread in threads:
        thread.start()
    stop.wait()
    for thread in threads:
        thread.join(timeout=20)
