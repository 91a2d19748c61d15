"""`wharfd up` and `wharfd down`: the whole control plane, started and stopped."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from wharf.platform.wharfd_cli.common import _fail, _settings, _upgrade_database, console
from wharf.platform.wharfd_cli.setup import _ensure_stack

if TYPE_CHECKING:
    from wharf.platform.settings import Settings


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


def up() -> None:
    """Run every component on this host in the foreground, after migrations."""
    from rich.markup import escape

    from wharf.platform.docker_daemon import DockerUnavailable, ensure_engine
    from wharf.platform.listen_ports import PortsTaken, check_ports, claims_of
    from wharf.platform.operations import running_supervisor, stop_leftover_components
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
    for leftover in stop_leftover_components(settings.supervisor_state_path):
        console.print(f"stopped {leftover}, left running by an earlier wharfd up")
    try:
        check_ports(claims_of(settings))
    except PortsTaken as taken:
        _fail(escape(str(taken)))
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
