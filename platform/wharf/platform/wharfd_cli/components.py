"""One subcommand per long-running component: `api`, `worker`, `logshipper`, `scheduler`, `router`; `ca`."""

from __future__ import annotations

import os
import signal
import sys
import threading
from typing import TYPE_CHECKING, Annotated

import typer

from wharf.platform.wharfd_cli.common import _component_settings, _fail, _settings

if TYPE_CHECKING:
    from wharf.platform.settings import Settings
    from wharf.router.logs import RouterLogSink


def api() -> None:
    """Serve the API, the git endpoint and the dashboard."""
    import uvicorn

    from wharf.platform.web.main import create_app

    settings = _component_settings()
    uvicorn.run(
        create_app(settings),
        host=settings.wharf_api_host,
        port=settings.wharf_api_port,
        log_level="info",
        # The router on this host forwards HTTPS requests: trust its scheme and client address only.
        proxy_headers=True,
        forwarded_allow_ips=settings.api_loopback_address.rsplit(":", 1)[0].strip("[]"),
    )


def worker(burst: Annotated[bool, typer.Option(help="Exit when the queues are empty.")] = False) -> None:
    """Run build and deploy jobs from the queues, each in a forked work horse."""
    import redis
    from rq import Worker

    from wharf.platform.jobs import ALL_QUEUES

    # Under `wharfd up` REDIS_URL is set for the workers, so the idle parent loads neither the settings
    # (pydantic) nor SQLAlchemy: the forked work horse does, and exits after its job.
    redis_url = os.environ.get("REDIS_URL") or _settings().resolved_redis_url

    class HorseSetupWorker(Worker):
        def main_work_horse(self, *args: object, **kwargs: object) -> None:
            _settings()
            super().main_work_horse(*args, **kwargs)  # type: ignore[arg-type]

    connection = redis.Redis.from_url(redis_url)
    HorseSetupWorker(list(ALL_QUEUES), connection=connection).work(burst=burst)


def logshipper() -> None:
    """Ship dyno output into the app logs, forward the logs to drains and age them out."""
    import logging

    from wharf.platform.logs.service import run_log_shipper

    logging.basicConfig(level=logging.INFO, format="logshipper: %(levelname)s %(message)s")
    run_log_shipper(_component_settings())


def scheduler(
    drain: Annotated[float, typer.Option(help="Seconds a dyno drains after leaving routing.")] = 3.0,
    resync: Annotated[float, typer.Option(help="Seconds between full passes without news.")] = 3.0,
) -> None:
    """Run dynos: converge to each app's formation and deploy new releases."""
    from wharf.platform.scheduler.fleet import SchedulerOptions
    from wharf.platform.scheduler.service import run_scheduler

    run_scheduler(_component_settings(), SchedulerOptions(drain_seconds=drain, resync_seconds=resync))


def _router_sink(settings: Settings) -> RouterLogSink:
    """The router's log lines into the apps' logs, counted into router metrics on the way."""
    from wharf.platform.logs.stream import router_log_sink
    from wharf.platform.metrics.router import MeteredSink, RouterMetrics
    from wharf.platform.metrics.store import MetricsStore

    sink = router_log_sink(
        settings.resolved_redis_url,
        max_lines=settings.wharf_log_max_lines,
        max_age_hours=settings.wharf_log_max_age_hours,
    )
    if not settings.wharf_router_metrics:
        return sink
    metrics = RouterMetrics(MetricsStore.from_settings(settings))
    metrics.start()
    return MeteredSink(sink, metrics)


def _run_router(settings: Settings, stop: threading.Event) -> None:
    from wharf.platform.security.authority import ensure_authority
    from wharf.platform.security.leaves import LocalCertificates
    from wharf.router.acme import AcmeSettings
    from wharf.router.controller import run_router
    from wharf.router.default_certificates import default_certificate_issuer
    from wharf.router.render import RouterPaths

    authority = ensure_authority(settings.wharf_data_dir)
    acme = None
    if settings.wharf_acme_directory:
        acme = AcmeSettings(
            directory_url=settings.wharf_acme_directory,
            contact_email=settings.wharf_acme_email,
            ca_bundle=settings.wharf_acme_ca_bundle,
        )
    default_issuer = default_certificate_issuer(
        settings.wharf_default_certificates,
        settings.wharf_domain,
        acme_directory=settings.wharf_acme_directory,
    )
    leaves = LocalCertificates(
        intermediate=authority.intermediate, folder=RouterPaths(settings.router_state_dir).local_certificates
    )
    run_router(
        redis_url=settings.resolved_redis_url,
        http_port=settings.wharf_http_port,
        https_port=settings.wharf_https_port,
        state_dir=settings.router_state_dir,
        domain=settings.wharf_domain,
        worker_processes=settings.wharf_router_workers,
        certificate_source=leaves if default_issuer == "local" else None,
        default_certificates_from_acme=default_issuer == "acme",
        acme=acme,
        api_hostname=settings.api_hostname,
        api_upstream=settings.api_loopback_address,
        waker_upstream=f"127.0.0.1:{settings.wharf_waker_port}",
        log_sink=_router_sink(settings),
        stop=stop,
        # Stopping the control plane leaves the apps served; `wharfd down --routers` takes them off.
        leave_serving=True,
    )


def router() -> None:
    """Program nginx from the route table and serve apps on WHARF_HTTP_PORT (and HTTPS)."""
    settings = _component_settings()
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    _run_router(settings, stop)


def ca() -> None:
    """Print the root certificate (PEM) of Wharf's local authority: `curl --cacert <(wharfd ca) https://…`."""
    from wharf.platform.security.authority import root_pem

    settings = _settings()
    try:
        sys.stdout.write(root_pem(settings.wharf_data_dir))
    except PermissionError as exc:
        _fail(f"Cannot read the authority in {settings.wharf_data_dir}: {exc}. Run as the Wharf user.")
