"""`wharfd`: the operator's command. `up` runs everything; one subcommand per component."""

from __future__ import annotations

import os
import shutil
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

if TYPE_CHECKING:
    from wharf.platform.settings import Settings

# Every component runs as `python -m wharf.platform.wharfd COMPONENT`, so this module imports only typer
# and rich at the top: each subcommand imports what it needs, and no process holds another one's modules.

cli = typer.Typer(
    help="Wharf server: run the platform and administer it.", no_args_is_help=True, add_completion=False
)
invites_cli = typer.Typer(help="Beta invite codes.", no_args_is_help=True)
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


@cli.command()
def migrate() -> None:
    """Bring the control-plane database schema up to date."""
    from wharf.platform.migrate import upgrade_database

    settings = _settings()
    upgrade_database(settings.resolved_database_url)
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
    from wharf.platform.migrate import upgrade_database

    settings = _settings()
    upgrade_database(settings.resolved_database_url)
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

    settings = _settings()
    uvicorn.run(
        create_app(settings),
        host=settings.wharf_api_host,
        port=settings.wharf_api_port,
        log_level="info",
        proxy_headers=False,
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
    run_log_shipper(_settings())


@cli.command()
def scheduler(
    drain: Annotated[float, typer.Option(help="Seconds a dyno drains after leaving routing.")] = 3.0,
    resync: Annotated[float, typer.Option(help="Seconds between full passes without news.")] = 3.0,
) -> None:
    """Run dynos: converge to each app's formation and deploy new releases."""
    from wharf.platform.scheduler.fleet import SchedulerOptions
    from wharf.platform.scheduler.service import run_scheduler

    run_scheduler(_settings(), SchedulerOptions(drain_seconds=drain, resync_seconds=resync))


def _run_router(settings: Settings, stop: threading.Event) -> None:
    from wharf.platform.logs.stream import router_log_sink
    from wharf.router.controller import run_router

    run_router(
        redis_url=settings.resolved_redis_url,
        http_port=settings.wharf_http_port,
        https_port=settings.wharf_https_port,
        state_dir=settings.wharf_data_dir / "router",
        domain=settings.wharf_domain,
        worker_processes=settings.wharf_router_workers,
        log_sink=router_log_sink(
            settings.resolved_redis_url,
            max_lines=settings.wharf_log_max_lines,
            max_age_hours=settings.wharf_log_max_age_hours,
        ),
        stop=stop,
    )


@cli.command()
def router() -> None:
    """Program nginx from the route table and serve apps on WHARF_HTTP_PORT (and HTTPS)."""
    settings = _settings()
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    _run_router(settings, stop)


SERVICES = ("scheduler", "router", "logshipper")


@cli.command()
def services(
    only: Annotated[str, typer.Option(help=f"Comma-separated, any of: {', '.join(SERVICES)}.")] = ",".join(
        SERVICES
    ),
) -> None:
    """Run the light components as supervised threads of one process, as `wharfd up` does."""
    import logging
    from collections.abc import Callable

    from wharf.platform.logs.service import run_log_shipper
    from wharf.platform.scheduler.service import run_scheduler
    from wharf.platform.supervisor import Task, run_tasks

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(threadName)s %(levelname)s %(message)s")
    settings = _settings()
    known: dict[str, Callable[[threading.Event], None]] = {
        "scheduler": lambda stop: run_scheduler(settings, stop=stop),
        "router": lambda stop: _run_router(settings, stop),
        "logshipper": lambda stop: run_log_shipper(settings, stop=stop),
    }
    chosen = [name.strip() for name in only.split(",") if name.strip()]
    unknown = sorted(set(chosen) - set(known))
    if unknown:
        _fail(f"unknown components: {', '.join(unknown)}; choose from {', '.join(SERVICES)}")
    say = logging.getLogger("wharf.services").info
    raise typer.Exit(run_tasks([Task(name, known[name]) for name in chosen], say=say))


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
    from wharf.platform.migrate import upgrade_database
    from wharf.platform.supervisor import Component, child_environment, component_argv, exec_supervisor

    settings = _settings()
    settings.wharf_data_dir.mkdir(parents=True, exist_ok=True)
    upgrade_database(settings.resolved_database_url)
    console.print(f"database ready ({settings.resolved_database_url.split('://', 1)[0]})")
    _ensure_stack(settings)
    extra_env = {"WHARF_DATA_DIR": str(settings.wharf_data_dir)}
    components: list[Component] = []
    if not settings.redis_url:
        # Supervised like the rest, started first (the others start once it answers) and stopped last.
        socket_path = settings.redis_socket_path
        components.append(
            Component(
                "redis",
                _private_redis_argv(socket_path, settings.wharf_redis_maxmemory_mb),
                ready_socket=str(socket_path),
            )
        )
        console.print(f"private redis-server on {socket_path}")
    _print_admin_invite(settings)
    # The API is its own process; the light components share one, as supervised threads; each build
    # worker is an rq parent that stays small and forks a work horse per job.
    components.append(Component("api", component_argv("api")))
    components.append(Component("services", component_argv("services")))
    worker_env = {"REDIS_URL": settings.resolved_redis_url}
    components += [
        Component(f"worker.{n}", component_argv("worker"), env=worker_env)
        for n in range(1, settings.wharf_build_workers + 1)
    ]
    console.print(f"API on http://{settings.wharf_api_host}:{settings.wharf_api_port}")
    # The long-lived parent (same pid) drops every module loaded for the setup above.
    exec_supervisor(components, child_environment(extra_env))


def main() -> None:
    from wharf.platform.settings import SettingsError

    try:
        cli()
    except SettingsError as exc:
        console.print(f"[red]wharfd: {exc}[/red]")
        sys.exit(1)


if __name__ == "__main__":
    main()
