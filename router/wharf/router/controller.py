"""The router controller: keeps nginx serving the route table published in Redis.

It listens on ``wharf:routes:changed`` and re-reads the table every few seconds as well, so a lost
message or a Redis restart only delays a change. Bursts of changes (a deploy replacing every dyno)
are batched into one reload. When Redis is unreachable nginx keeps serving the last good config,
and a router serving a complete table keeps it over an incomplete one (made while a half of the
table was lost from Redis, see wharf.platform.routing), also across its own restarts: the table it
serves is kept in its state dir.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import redis

from wharf.router.acme import (
    AcmeCertificateSource,
    AcmeIssuer,
    AcmeSettings,
    AcmeStatus,
    with_issued_certificates,
)
from wharf.router.config_changes import only_backends_differ
from wharf.router.default_certificates import CertificateSource, default_hostnames, with_default_certificates
from wharf.router.logs import AccessLogTailer, RouterLogSink
from wharf.router.nginx import ConfigRejected, NginxMaster
from wharf.router.render import (
    RouterPaths,
    RouterSettings,
    certificate_files_version,
    new_router_instance,
    render_nginx_config,
)
from wharf.router.routes import (
    ACME_STATUS_KEY,
    ROUTES_CHANNEL,
    ROUTES_SERVED_KEY,
    RouteTable,
    TlsCertificate,
    parse_route_table,
    published_routes,
)

logger = logging.getLogger(__name__)
access_logger = logging.getLogger("wharf.router.access")
# In the state dir: the table the router serves, what a restarted router keeps over an incomplete one.
SERVED_TABLE = "routes.json"


def log_to_logging(app: str, line: str) -> None:
    """Default sink until the log pipeline is attached: the platform's own log."""
    access_logger.info("app=%s %s", app, line)


@dataclass
class RouterController:
    """Applies route tables to one nginx master; ``run`` drives it until ``stop`` is set."""

    redis: redis.Redis[bytes]
    settings: RouterSettings
    paths: RouterPaths
    nginx: NginxMaster
    log_sink: RouterLogSink = log_to_logging
    debounce_seconds: float = 0.15
    max_batch_seconds: float = 1.0
    resync_seconds: float = 5.0
    table: RouteTable = field(default_factory=RouteTable)
    changed: threading.Event = field(default_factory=threading.Event)
    _live_config: str | None = None
    _rejected_config: str | None = None
    # What the last render was made from: an idle resync that finds the same table, certificates and
    # certificate files renders nothing (a render of hundreds of apps costs a good part of a second).
    _rendered_from: object = None
    acme: AcmeIssuer | None = None
    certificate_source: CertificateSource | None = None
    instance: str = field(default_factory=new_router_instance)
    # Stopping leaves nginx serving the last routes for the next controller to adopt (`wharfd up`);
    # False stops it with the controller (taking traffic off the host).
    leave_serving: bool = False
    _kept_over: int | None = None

    def apply(self, table: RouteTable) -> bool:
        """Serve ``table``: validate, swap and reload when its config differs. True when nginx reloaded."""
        if self._keeps_instead(table):
            return False
        started = time.monotonic()
        served = table
        if self.acme is not None:
            self.acme.request(table)
            served = with_issued_certificates(table, self.acme.issued(table), self.settings.domain)
        served, api_cert = self._with_default_certificates(served)
        rendered_from = (served, api_cert, certificate_file_versions(served, api_cert))
        if rendered_from == self._rendered_from and self.nginx.running:
            return False
        text = render_nginx_config(
            served, self.settings, self.paths, instance=self.instance, api_cert=api_cert
        )
        self._rendered_from = rendered_from
        if text == self._live_config or text == self._rejected_config:
            return False
        try:
            self.nginx.install(text, validate=not only_backends_differ(self._live_config, text))
        except ConfigRejected as error:
            self._rejected_config = text
            logger.error("route table generation %d rejected by nginx -t: %s", table.generation, error)
            return False
        self._live_config, self._rejected_config = text, None
        self.table = table
        if self.nginx.running:
            self.nginx.reload()
        else:
            self.nginx.start()
        self._write_status()
        try:
            self.redis.set(ROUTES_SERVED_KEY, str(table.generation))
        except redis.RedisError as error:
            logger.warning("cannot record the served generation: %s", error)
        logger.info(
            "router serving route table generation %d (%d apps) in %.3f s",
            table.generation,
            len(table.apps),
            time.monotonic() - started,
        )
        return True

    def _with_default_certificates(self, table: RouteTable) -> tuple[RouteTable, TlsCertificate | None]:
        """Certificates for the default hostnames and the API; a failing source leaves them on HTTP only."""
        if self.certificate_source is None:
            return table, None
        wanted = default_hostnames(table, self.settings.domain)
        if self.settings.api_hostname is not None:
            wanted.append(self.settings.api_hostname)
        try:
            issued = self.certificate_source.certificates(wanted)
        except (OSError, ValueError) as error:
            logger.error("no certificates for the default hostnames: %s", error)
            return table, None
        api_cert = issued.get(self.settings.api_hostname) if self.settings.api_hostname else None
        return with_default_certificates(table, self.settings.domain, issued), api_cert

    def _keeps_instead(self, table: RouteTable) -> bool:
        """Whether to keep the complete table served over TABLE, an incomplete one."""
        if table.complete or not self.table.complete:
            return False
        if self._kept_over != table.generation:
            self._kept_over = table.generation
            logger.warning(
                "route table generation %d is incomplete (a half of it was lost from Redis): keeping "
                "generation %d (%d apps) until its owners write it whole again",
                table.generation,
                self.table.generation,
                len(self.table.apps),
            )
        return True

    def _write_status(self) -> None:
        status = {"generation": self.table.generation, "applied_at": time.time()}
        for name, text in (("status.json", json.dumps(status)), (SERVED_TABLE, self.table.to_json())):
            temporary = self.paths.state_dir / f"{name}.next"
            temporary.write_text(text, encoding="utf-8")
            temporary.replace(self.paths.state_dir / name)

    def _table_served_before(self) -> RouteTable:
        """The table an earlier run served last (an empty one when it left none readable)."""
        try:
            return parse_route_table((self.paths.state_dir / SERVED_TABLE).read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            logger.debug("no route table served before: %s", error)
            return RouteTable()

    def _read_table(self) -> RouteTable | None:
        """The published table; None when Redis cannot say or holds none (lost, or not yet published)."""
        try:
            return published_routes(self.redis)
        except (redis.RedisError, OSError, ValueError) as error:
            logger.warning("cannot read the route table, keeping the live routes: %s", error)
            return None

    def refresh(self) -> None:
        """Read the published table and apply it; with none to read, keep serving what is live.

        With no table to read (none published yet, as on a host without apps, or Redis lost it) the live
        routes are applied again, so that certificates issued since (the API's first one) are served.
        """
        table = self._read_table()
        if table is None and self._live_config is not None:
            self.apply(self.table)
            return
        if table is None and self.paths.config.exists():
            return
        self.apply(table or RouteTable())

    def start(self) -> None:
        """Bring nginx up: on the published table, else on the last config, else on an empty table.

        A master an earlier run left serving is adopted and reloaded, not restarted.
        """
        self.paths.create()
        self.table = self._table_served_before()
        table = self._read_table()
        if table is not None and self._keeps_instead(table):
            table = self.table
        if table is None:
            if self.paths.config.exists():
                self.nginx.start()
                return
            table = RouteTable()
        if not self.apply(table) and not self.nginx.running:
            self.apply(RouteTable())

    def enable_acme(self, settings: AcmeSettings) -> None:
        """Issue certificates for ACME apps; their status goes where `wharf certs:auto` reads it."""
        self.acme = AcmeIssuer(
            settings,
            self.paths,
            on_issued=self.changed.set,
            on_status=self.record_acme_status,
            domain=self.settings.domain,
        )

    def record_acme_status(self, status: AcmeStatus) -> None:
        """Where `wharf certs:auto` reads it; a failure is also a line of the app's log."""
        value = {
            "app": status.app,
            "state": status.state,
            "detail": status.detail,
            "updated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        self.redis.hset(ACME_STATUS_KEY, status.hostname, json.dumps(value))
        if status.state == "failing" and status.app:
            self.log_sink(
                status.app, f'at=error code=ACME host={status.hostname} desc="{_quoted(status.detail)}"'
            )

    def run(self, stop: threading.Event) -> None:
        """Start (or adopt) nginx and keep it in step with Redis until ``stop`` is set."""
        self.start()
        nginx_stopped = threading.Event()
        helpers = [
            threading.Thread(target=self._listen, args=(stop,), name="wharf-routes-listener", daemon=True),
            threading.Thread(
                target=self._ship_logs, args=(nginx_stopped,), name="wharf-router-logs", daemon=True
            ),
        ]
        for helper in helpers:
            helper.start()
        next_resync = time.monotonic() + self.resync_seconds
        try:
            while not stop.is_set():
                self.changed.wait(timeout=0.2)
                self._supervise()
                if self.changed.is_set():
                    self._wait_for_quiet(stop)
                elif time.monotonic() < next_resync:
                    continue
                self.refresh()
                next_resync = time.monotonic() + self.resync_seconds
        finally:
            if self.acme is not None:
                self.acme.stop()
            if self.leave_serving:
                self.nginx.detach()
            else:
                self.nginx.stop()
            nginx_stopped.set()
            for helper in helpers:
                helper.join(timeout=5)

    def _ship_logs(self, nginx_stopped: threading.Event) -> None:
        """Turn access log records into router log lines, at a lower CPU priority than nginx.

        When the host is saturated the records wait in the log file instead of taking CPU from
        requests; they are delivered once there is room, and a last time after nginx has stopped.
        """
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
        tailer = AccessLogTailer(self.paths.access_log, self.log_sink, reopen=self.nginx.reopen_logs)
        while not nginx_stopped.wait(0.2):
            tailer.poll()
        while tailer.poll():
            pass

    def _wait_for_quiet(self, stop: threading.Event) -> None:
        """Let a burst of change messages settle so it costs a single reload."""
        deadline = time.monotonic() + self.max_batch_seconds
        while not stop.is_set():
            self.changed.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self.changed.wait(min(self.debounce_seconds, remaining)):
                return

    def _supervise(self) -> None:
        if self.nginx.running or (self._live_config is None and not self.paths.config.exists()):
            return
        logger.error("nginx master exited; starting it again")
        try:
            self.nginx.start()
        except RuntimeError as error:
            logger.error("nginx did not start: %s", error)
            time.sleep(1)

    def _listen(self, stop: threading.Event) -> None:
        """Subscribe to change messages; reconnect forever, flagging a re-read after each reconnect."""
        while not stop.is_set():
            try:
                pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(ROUTES_CHANNEL)
                self.changed.set()
                while not stop.is_set():
                    if pubsub.get_message(timeout=1.0) is not None:
                        self.changed.set()
                pubsub.close()
            except (redis.RedisError, OSError) as error:
                logger.warning("route change subscription lost: %s", error)
                stop.wait(1.0)


def run_router(
    *,
    redis_url: str,
    http_port: int,
    state_dir: Path,
    domain: str,
    https_port: int = 443,
    worker_processes: int | str = "auto",
    log_sink: RouterLogSink | None = None,
    nginx_binary: str = "nginx",
    acme: AcmeSettings | None = None,
    certificate_source: CertificateSource | None = None,
    api_hostname: str | None = None,
    api_upstream: str | None = None,
    default_certificates_from_acme: bool = False,
    waker_upstream: str | None = None,
    stop: threading.Event | None = None,
    leave_serving: bool = False,
) -> None:
    """Run the router until ``stop`` is set (or SIGTERM/SIGINT when called without one).

    ``acme`` turns on automatic certificates for apps whose route entry says ``"acme": true``;
    ``certificate_source`` serves every app's default hostname (and ``api_hostname``, proxied to
    ``api_upstream``) over HTTPS; ``default_certificates_from_acme`` has the ACME issuer serve them instead.
    """
    if stop is None:
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
    settings = RouterSettings(
        http_port=http_port,
        https_port=https_port,
        domain=domain,
        worker_processes=worker_processes,
        api_hostname=api_hostname,
        api_upstream=api_upstream,
        waker_upstream=waker_upstream,
    )
    paths = RouterPaths(state_dir)
    controller = RouterController(
        redis=redis.Redis.from_url(redis_url, socket_timeout=10, health_check_interval=30),
        settings=settings,
        paths=paths,
        nginx=NginxMaster(paths=paths, binary=nginx_binary),
        log_sink=log_sink or log_to_logging,
        leave_serving=leave_serving,
        certificate_source=certificate_source,
    )
    if acme is not None:
        controller.enable_acme(acme)
    if default_certificates_from_acme:
        if controller.acme is None:
            raise ValueError("default certificates from ACME need ACME settings")
        controller.certificate_source = AcmeCertificateSource(controller.acme, domain, api_hostname)
    controller.run(stop)


def certificate_file_versions(
    table: RouteTable, api_cert: TlsCertificate | None
) -> tuple[tuple[str, str], ...]:
    """The file version of every certificate the config names, as the rendered config records it."""
    certificates = [cert for route in table.apps for cert in route.tls]
    if api_cert is not None:
        certificates.append(api_cert)
    return tuple((cert.cert_path, certificate_files_version(cert)) for cert in certificates)


def _quoted(text: str) -> str:
    """One line, without the double quotes that delimit it in a router log line."""
    return " ".join(text.replace('"', "'").split())
