"""`wharfd`: the operator's command. `up` runs everything; one subcommand per component."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from wharf.platform import operator_accounts

if TYPE_CHECKING:
    import redis

    from wharf.platform.settings import Settings
    from wharf.router.logs import RouterLogSink

# Every component runs as `python -m wharf.platform.wharfd COMPONENT`, so this module imports only typer
# and rich at the top: each subcommand imports what it needs, and no process holds another one's modules.

cli = typer.Typer(
    help="Wharf server: run the platform and administer it.", no_args_is_help=True, add_completion=False
)
invites_cli = typer.Typer(help="Beta invite codes.")
cli.add_typer(invites_cli, name="invites")
stack_cli = typer.Typer(help="The Debian stack images apps are built on and run in.", no_args_is_help=True)
cli.add_typer(stack_cli, name="stack")
console = Console(stderr=True)


def _fail(message: str) -> None:
    console.print(f"[red]wharfd: {message}[/red]")
    raise typer.Exit(1)


def _settings() -> Settings:
    from wharf.platform.logs.platform_lines import install_platform_lines
    from wharf.platform.settings import SettingsError, get_settings

    settings = get_settings()
    try:
        settings.secret_key()
    except SettingsError as exc:
        _fail(str(exc))
    except PermissionError as exc:
        _fail(f"Cannot use the data dir {settings.wharf_data_dir}: {exc}. Run as root or set WHARF_DATA_DIR.")
    install_platform_lines(settings)
    return settings


def _component_settings() -> Settings:
    """The settings of a long-running component, which refuses a schema written by a newer Wharf."""
    from wharf.platform.migrate import SchemaTooNew, check_schema

    settings = _settings()
    try:
        check_schema(settings.resolved_database_url)
    except SchemaTooNew as error:
        _fail(str(error))
    return settings


def _upgrade_database(settings: Settings) -> None:
    from wharf.platform.migrate import SchemaTooNew, upgrade_database

    try:
        upgrade_database(settings.resolved_database_url)
    except SchemaTooNew as error:
        _fail(str(error))


@cli.command()
def migrate() -> None:
    """Bring the control-plane database schema up to date (safe while Wharf runs)."""
    _upgrade_database(_settings())
    console.print("database is up to date")


@invites_cli.command("create")
def invites_create(
    uses: Annotated[int, typer.Option(help="How many accounts each code may create.")] = 1,
    expires: Annotated[float | None, typer.Option(help="Days until the code expires.")] = None,
    note: Annotated[str, typer.Option(help="A note for your records, such as who it is for.")] = "",
    count: Annotated[int, typer.Option(help="How many codes to make.")] = 1,
    admin: Annotated[bool, typer.Option(help="Accounts made with the code are admins.")] = False,
) -> None:
    """Print new beta invite codes, one a line."""
    from wharf.platform.actions.invites import create_invite
    from wharf.platform.db import session_scope
    from wharf.platform.errors import WharfError

    settings = _settings()
    _upgrade_database(settings)
    try:
        with session_scope(settings.resolved_database_url) as session:
            codes = [
                create_invite(
                    session=session,
                    created_by=None,
                    max_uses=uses,
                    expires_in_days=expires,
                    note=note,
                    grants_admin=admin,
                ).code
                for _ in range(count)
            ]
    except WharfError as exc:
        _fail(exc.message)
    for code in codes:
        print(code)


@stack_cli.command("build")
def stack_build(
    suite: Annotated[str, typer.Option(help="Debian suite of the stack.")] = "trixie",
    mirror: Annotated[
        str | None, typer.Option(help="Debian mirror; default: the host's apt sources.")
    ] = None,
) -> None:
    """Build the run and build images from Debian packages (no registry needed)."""
    from wharf.platform.stack import StackBuildError, build_stack_images

    settings = _settings()
    try:
        build_stack_images(
            run_image=settings.wharf_run_image,
            build_image=settings.wharf_build_image,
            suite=suite,
            mirror=mirror,
            progress=lambda line: console.print(line, markup=False, highlight=False),
        )
    except StackBuildError as exc:
        _fail(str(exc))


def _ensure_stack(settings: Settings) -> None:
    from wharf.platform.stack import StackBuildError, ensure_stack_images

    try:
        built = ensure_stack_images(
            run_image=settings.wharf_run_image,
            build_image=settings.wharf_build_image,
            progress=lambda line: console.print(line, markup=False, highlight=False),
        )
    except StackBuildError as exc:
        _fail(
            f"{exc}. Build them with `wharfd stack build`, or name existing images in "
            "WHARF_RUN_IMAGE and WHARF_BUILD_IMAGE."
        )
    except Exception as exc:  # docker unreachable, most often
        _fail(
            f"Cannot check the stack images ({exc}). Is dockerd running? Start it, then run wharfd up again."
        )
    if not built:
        console.print(f"stack images present ({settings.wharf_run_image}, {settings.wharf_build_image})")


@cli.command()
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


@cli.command()
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


@cli.command()
def logshipper() -> None:
    """Ship dyno output into the app logs, forward the logs to drains and age them out."""
    import logging

    from wharf.platform.logs.service import run_log_shipper

    logging.basicConfig(level=logging.INFO, format="logshipper: %(levelname)s %(message)s")
    run_log_shipper(_component_settings())


@cli.command()
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

    authority = ensure_authority(settings.wharf_data_dir)
    acme = None
    if settings.wharf_acme_directory:
        acme = AcmeSettings(
            directory_url=settings.wharf_acme_directory,
            contact_email=settings.wharf_acme_email,
            ca_bundle=settings.wharf_acme_ca_bundle,
        )
    leaves = LocalCertificates(
        intermediate=authority.intermediate, folder=settings.wharf_data_dir / "router" / "local-certs"
    )
    run_router(
        redis_url=settings.resolved_redis_url,
        http_port=settings.wharf_http_port,
        https_port=settings.wharf_https_port,
        state_dir=settings.router_state_dir,
        domain=settings.wharf_domain,
        worker_processes=settings.wharf_router_workers,
        certificate_source=leaves,
        acme=acme,
        api_hostname=settings.api_hostname,
        api_upstream=settings.api_loopback_address,
        log_sink=_router_sink(settings),
        stop=stop,
        # Stopping the control plane leaves the apps served; `wharfd down --routers` takes them off.
        leave_serving=True,
    )


@cli.command()
def router() -> None:
    """Program nginx from the route table and serve apps on WHARF_HTTP_PORT (and HTTPS)."""
    settings = _component_settings()
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    _run_router(settings, stop)


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
    """Re-sign the local intermediate with the root well before it expires (checked twice a day)."""
    from wharf.platform.security.authority import ensure_authority

    while True:
        ensure_authority(settings.wharf_data_dir)
        if stop.wait(12 * 3600):
            return


def _run_ssh_server(settings: Settings, stop: threading.Event) -> None:
    """`git push ssh://...` (off with WHARF_SSH_ENABLED=false: the thread just waits)."""
    if not settings.wharf_ssh_enabled:
        stop.wait()
        return
    from wharf.platform.sshd.server import run_ssh_server

    run_ssh_server(settings, stop=stop)


@cli.command()
def ca() -> None:
    """Print the root certificate (PEM) of Wharf's local authority: `curl --cacert <(wharfd ca) https://…`."""
    from wharf.platform.security.authority import root_pem

    settings = _settings()
    try:
        sys.stdout.write(root_pem(settings.wharf_data_dir))
    except PermissionError as exc:
        _fail(f"Cannot read the authority in {settings.wharf_data_dir}: {exc}. Run as the Wharf user.")


@cli.command()
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
    from wharf.platform.supervisor import Task, run_tasks

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
    }
    chosen = [name.strip() for name in only.split(",") if name.strip()]
    unknown = sorted(set(chosen) - set(known))
    if unknown:
        _fail(f"unknown components: {', '.join(unknown)}; choose from {', '.join(SERVICES)}")
    say = logging.getLogger("wharf.services").info
    raise typer.Exit(run_tasks([Task(name, known[name]) for name in chosen], say=say))


@cli.command()
def usage(
    as_json: Annotated[bool, typer.Option("--json", help="Print the usage as JSON.")] = False,
    days: Annotated[
        int, typer.Option("--days", min=1, max=31, help="How many days back, today included.")
    ] = 7,
) -> None:
    """Metered requests (API calls, git requests, log tails) per account per day."""
    import redis as redis_module
    from sqlalchemy import select

    from wharf.platform.db import session_scope
    from wharf.platform.metering.usage import all_usage
    from wharf.platform.models import User

    settings = _settings()
    client = redis_module.Redis.from_url(settings.resolved_redis_url)
    found = all_usage(client, installation=settings.installation_id, days=days)
    with session_scope(settings.resolved_database_url) as session:
        emails = {str(uid): email for uid, email in session.execute(select(User.id, User.email))}
    rows = [
        {"date": date, "account": emails.get(account, account), **day.to_json()}
        for date, per_account in found.items()
        for account, day in sorted(per_account.items(), key=lambda item: emails.get(item[0], item[0]))
    ]
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    from rich.table import Table

    table = Table("date", "account", "api", "git", "logs", "total")
    for row in rows:
        table.add_row(*(str(row[key]) for key in ("date", "account", "api", "git", "logs", "total")))
    Console().print(table)


def _print_admin_invite(settings: Settings) -> None:
    from wharf.platform.actions.accounts import count_users
    from wharf.platform.actions.invites import create_invite
    from wharf.platform.db import session_scope

    with session_scope(settings.resolved_database_url) as session:
        if count_users(session=session) > 0:
            return
        code = create_invite(
            session=session, created_by=None, expires_in_days=7, note="first admin", grants_admin=True
        ).code
    api_url = f"http://{settings.wharf_api_host}:{settings.wharf_api_port}"
    console.rule("No users yet")
    console.print(f"Admin invite code: [bold]{code}[/bold]")
    console.print(f"Sign up with: wharf signup --api {api_url} --invite {code} --email YOU@EXAMPLE.COM")
    console.rule()


def _private_redis_argv(socket_path: Path, maxmemory_mb: int) -> list[str]:
    """redis-server on a unix socket only (no TCP port), persisting to the data dir.

    Its memory is capped, and nothing is ever evicted: routes, queues, locks and rate limits must not
    vanish under pressure, so every tenant-fillable key (log, build and deploy streams) is capped instead.
    """
    binary = shutil.which("redis-server")
    if binary is None:
        _fail("redis-server is not installed. Install it (apt-get install redis-server) or set REDIS_URL.")
    socket_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    return [
        str(binary),
        "--port",
        "0",
        "--unixsocket",
        str(socket_path),
        "--unixsocketperm",
        "600",
        "--dir",
        str(socket_path.parent),
        "--appendonly",
        "yes",
        "--appendfsync",
        "everysec",
        "--save",
        "",
        "--daemonize",
        "no",
        "--maxmemory",
        f"{maxmemory_mb}mb",
        "--maxmemory-policy",
        "noeviction",
    ]


@cli.command()
def up() -> None:
    """Run every component on this host in the foreground, after migrations."""
    from wharf.platform.docker_daemon import DockerUnavailable, ensure_engine
    from wharf.platform.operations import running_supervisor
    from wharf.platform.settings import ensure_private_dir
    from wharf.platform.supervisor import (
        Component,
        child_environment,
        component_argv,
        exec_supervisor,
        shut_down_leftover_redis,
    )

    settings = _settings()
    ensure_private_dir(settings.wharf_data_dir)
    already = running_supervisor(settings.supervisor_state_path)
    if already is not None:
        _fail(f"wharfd up is already running here (pid {already['pid']}); stop it with `wharfd down`")
    _upgrade_database(settings)
    console.print(f"database ready ({settings.resolved_database_url.split('://', 1)[0]})")
    try:
        engine = ensure_engine(settings.wharf_data_dir / "logs" / "dockerd.log")
    except DockerUnavailable as error:
        _fail(str(error))
    console.print(f"docker engine {engine}")
    _ensure_stack(settings)
    extra_env = {"WHARF_DATA_DIR": str(settings.wharf_data_dir)}
    components: list[Component] = []
    if not settings.redis_url:
        # Supervised like the rest, started first (the others start once it answers) and stopped last.
        socket_path = settings.redis_socket_path
        if shut_down_leftover_redis(socket_path):
            console.print(f"stopped the redis-server an earlier run left on {socket_path}")
        components.append(
            Component(
                "redis",
                _private_redis_argv(socket_path, settings.wharf_redis_maxmemory_mb),
                ready_socket=str(socket_path),
            )
        )
        console.print(f"private redis-server on {socket_path}")
    _print_admin_invite(settings)
    # The API is its own process; the light components share one, as supervised threads, and its
    # build worker dispatcher starts rq workers (up to WHARF_BUILD_WORKERS) only while jobs wait.
    components.append(Component("api", component_argv("api")))
    components.append(Component("services", component_argv("services")))
    plain = f"http://{settings.wharf_api_host}:{settings.wharf_api_port}"
    console.print(f"API on {plain} and, through the router, {settings.api_https_url}")
    # The long-lived parent (same pid) drops every module loaded for the setup above.
    exec_supervisor(components, child_environment(extra_env), state_file=settings.supervisor_state_path)


@cli.command()
def backup(
    output: Annotated[
        Path | None,
        typer.Option("--output", help="Archive to write; default: wharf-backup-<time>.tar.gz here."),
    ] = None,
) -> None:
    """Write one archive of the database, secret key, git repositories, certificates and add-on backups."""
    import time as clock

    from wharf.platform.host_backup import BackupError, create_backup

    settings = _settings()
    target = output or Path(f"wharf-backup-{clock.strftime('%Y%m%d-%H%M%S')}.tar.gz")
    try:
        size = create_backup(settings, target, say=lambda line: console.print(f"-----> {line}", markup=False))
    except BackupError as error:
        _fail(str(error))
    console.print(f"wrote {target} ({size / 1024 / 1024:.1f} MB, mode 0600: it holds the secret key)")


@cli.command()
def restore(
    archive: Annotated[Path, typer.Argument(help="An archive written by `wharfd backup`.")],
    force: Annotated[bool, typer.Option("--force", help="Replace the install in the data dir.")] = False,
) -> None:
    """Bring a `wharfd backup` archive back; the next `wharfd up` rebuilds missing release images."""
    from wharf.platform.host_backup import BackupError, restore_backup
    from wharf.platform.operations import running_supervisor
    from wharf.platform.settings import get_settings

    # Not _settings(): that creates a secret key, and the one to use is in the archive.
    settings = get_settings()
    if running_supervisor(settings.supervisor_state_path) is not None:
        _fail("wharfd up is running on this data dir: stop it with `wharfd down` first")
    if not archive.is_file():
        _fail(f"{archive} is not a file")
    try:
        restore_backup(
            settings, archive, say=lambda line: console.print(f"-----> {line}", markup=False), force=force
        )
    except BackupError as error:
        _fail(str(error))
    console.print("restored; start Wharf with `wharfd up` (apps whose images are missing are rebuilt)")


@cli.command()
def gc(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would go; remove nothing.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    older_than: Annotated[
        float | None,
        typer.Option("--older-than", help="Hours; default WHARF_GC_AGE_HOURS.", min=0),
    ] = None,
) -> None:
    """Remove old build directories, release images beyond WHARF_KEEP_RELEASES, dangling images and
    stopped containers that Wharf made; print the space freed."""
    import docker

    from wharf.platform.host_gc import collect_garbage, human_bytes

    settings = _component_settings()
    try:
        report = collect_garbage(settings, dry_run=dry_run, age_hours=older_than)
    except (docker.errors.DockerException, OSError) as error:
        _fail(f"gc could not finish ({error}). Is dockerd running?")
    if as_json:
        print(json.dumps(report.to_json(), indent=2))
        return
    for item in report.removed:
        done = "would remove" if dry_run else "removed"
        print(f"{done} {item.kind} {item.name} ({human_bytes(item.bytes)}): {item.reason}")
    for line in report.skipped:
        print(f"kept {line}")
    verb = "would free" if dry_run else "freed"
    print(f"{verb} {human_bytes(report.freed_bytes)} ({len(report.removed)} objects)")


@cli.command()
def down(
    routers: Annotated[
        bool, typer.Option("--routers", help="Also stop the router's nginx: the apps stop answering.")
    ] = False,
) -> None:
    """Stop `wharfd up`; the apps go on answering unless --routers takes traffic off this host."""
    from wharf.platform.operations import stop_control_plane, stop_router_nginx

    settings = _settings()
    try:
        pid = stop_control_plane(settings.supervisor_state_path)
    except TimeoutError as error:
        _fail(str(error))
    console.print("wharfd up was not running" if pid is None else f"stopped wharfd up (pid {pid})")
    if routers:
        nginx = stop_router_nginx(settings.router_state_dir)
        console.print(
            "no router nginx was running" if nginx is None else f"stopped router nginx (pid {nginx})"
        )
    elif pid is not None:
        console.print("the router's nginx keeps serving the apps; `wharfd down --routers` stops it")


@cli.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print the status as JSON.")] = False,
) -> None:
    """Every component with pid, uptime and last error; exit 0 OK, 1 WARNING, 2 CRITICAL."""
    from wharf.platform.operations import VERDICTS, collect_status

    settings = _settings()
    report = collect_status(settings)
    if as_json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        from rich.table import Table

        table = Table("component", "state", "pid", "uptime", "restarts", "last error")
        for c in report.components:
            uptime = "" if c.uptime_seconds is None else f"{c.uptime_seconds}s"
            table.add_row(c.name, c.state, str(c.pid or ""), uptime, str(c.restarts), c.last_error or "")
        console.print(table)
        for check in report.checks:
            console.print(f"{VERDICTS[check.verdict]:8} {check.name}: {check.detail}", markup=False)
        console.print(f"status: {VERDICTS[report.verdict]}")
    raise typer.Exit(report.verdict)


operator_accounts.register(cli, invites_cli)


def main() -> None:
    from wharf.platform.settings import SettingsError

    try:
        cli()
    except SettingsError as exc:
        console.print(f"[red]wharfd: {exc}[/red]")
        sys.exit(1)


if __name__ == "__main__":
    main()
