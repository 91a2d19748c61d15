"""The `alerts` and `autoscaler` components of `wharfd services`, built from settings.

Both read metrics through the `MetricsReader` that `metrics_reader_for` returns: the Redis store the
router, the dyno collector and the statsd listener write (`metrics/store.py`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import timedelta

import redis

from wharf.platform.alerts.delivery import Deliverer
from wharf.platform.alerts.evaluator import AlertEvaluator
from wharf.platform.autoscale.scaler import Autoscaler
from wharf.platform.autoscale.sleep import mark_asleep
from wharf.platform.db import session_factory
from wharf.platform.logs.platform_lines import platform_lines_for
from wharf.platform.metrics.points import MetricsReader
from wharf.platform.metrics.store import MetricsStore
from wharf.platform.runtime import get_runtime
from wharf.platform.security.crypto import ConfigCipher
from wharf.platform.settings import Settings

log = logging.getLogger(__name__)


def metrics_reader_for(settings: Settings) -> MetricsReader:
    return MetricsStore.from_settings(settings)


def line_writer(settings: Settings, dyno: str) -> Callable[[str, str], None]:
    lines = platform_lines_for(settings)
    return lambda app, text: lines.line(app, source="api", dyno=dyno, line=text)


def build_evaluator(
    settings: Settings, deliverer: Deliverer, metrics: MetricsReader | None = None
) -> AlertEvaluator:
    runtime = get_runtime(settings.wharf_runtime, installation=settings.installation_id)
    return AlertEvaluator(
        sessions=session_factory(settings.resolved_database_url),
        cipher=ConfigCipher(settings.secret_key()),
        metrics=metrics or metrics_reader_for(settings),
        dynos=lambda app: runtime.list_dynos(app),
        notify=deliverer.submit,
        write_line=line_writer(settings, "alerts"),
    )


def run_alerts(settings: Settings, stop: threading.Event, metrics: MetricsReader | None = None) -> None:
    deliverer = Deliverer(settings)
    try:
        build_evaluator(settings, deliverer, metrics).run(stop, settings.wharf_alert_interval_seconds)
    finally:
        deliverer.close()


def run_autoscaler(settings: Settings, stop: threading.Event, metrics: MetricsReader | None = None) -> None:
    client = redis.Redis.from_url(settings.resolved_redis_url)
    scaler = Autoscaler(
        sessions=session_factory(settings.resolved_database_url),
        metrics=metrics or metrics_reader_for(settings),
        down_window=timedelta(seconds=settings.wharf_autoscale_down_window_seconds),
        down_step=timedelta(seconds=settings.wharf_autoscale_down_step_seconds),
        write_line=line_writer(settings, "autoscale"),
        idle_window=timedelta(seconds=settings.wharf_autoscale_idle_seconds),
        on_asleep=lambda app, since: mark_asleep(client, app, since),
    )
    scaler.run(stop, settings.wharf_autoscale_interval_seconds)
