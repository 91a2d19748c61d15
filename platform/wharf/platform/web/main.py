"""The API application: routers, error handlers and the shared context."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from wharf.platform.actions.domains import rewrite_lost_app_routes, sync_all_app_routes
from wharf.platform.actions.dynos import runtime_for
from wharf.platform.db import POOL_CAPACITY, session_scope
from wharf.platform.git.review import sweep_idle_review_apps
from wharf.platform.logs.platform_lines import install_platform_lines
from wharf.platform.metering.buckets import RateLimiter
from wharf.platform.metering.identity import TokenOwners
from wharf.platform.models import App, Formation, Release
from wharf.platform.runtime.base import InteractiveRuntime
from wharf.platform.scheduler.notify import install_change_notifier
from wharf.platform.settings import Settings, get_settings
from wharf.platform.web import git_http
from wharf.platform.web.admission import DatabaseAdmission, permits_for
from wharf.platform.web.api.errors import install_error_handlers
from wharf.platform.web.api.routes import (
    access,
    account_security,
    accounts,
    addons,
    alerts,
    apps,
    authority,
    autoscale,
    builds,
    config,
    domains,
    drains,
    dynos,
    formation,
    health,
    invites,
    logs,
    metrics,
    pg,
    pipelines,
    releases,
    rollback,
    run,
    ssh_keys,
    teams,
    test_runs,
    tokens,
    usage,
    waitlist,
)
from wharf.platform.web.context import ApiContext, build_context
from wharf.platform.web.dashboard import install_dashboard
from wharf.platform.web.rate_limits import RateLimitMiddleware

logger = logging.getLogger(__name__)
REVIEW_SWEEP_KEY = "wharf:review-sweep"
# How often the API looks whether Redis still holds its half of the route table.
ROUTES_CHECK_SECONDS = 5.0

API_ROUTERS = (
    health.router,
    authority.router,
    accounts.router,
    account_security.router,
    waitlist.router,
    tokens.router,
    invites.router,
    apps.router,
    domains.router,
    config.router,
    releases.router,
    formation.router,
    builds.router,
    logs.router,
    drains.router,
    dynos.router,
    rollback.router,
    run.router,
    addons.router,
    pg.router,
    test_runs.router,
    alerts.router,
    autoscale.router,
    usage.router,
    ssh_keys.router,
    access.router,
    teams.router,
    metrics.router,
    pipelines.router,
)


def _publish_routes(context: ApiContext) -> None:
    """Republish every app's routing settings, so the router is right after any restart."""
    with session_scope(context.database_url) as session:
        sync_all_app_routes(session=session, client=context.redis, settings=context.settings)


def _rewrite_lost_routes(context: ApiContext) -> bool:
    with session_scope(context.database_url) as session:
        return rewrite_lost_app_routes(session=session, client=context.redis, settings=context.settings)


async def _keep_routes_whole(context: ApiContext) -> None:
    """Redis may lose the route table (emptied, a key deleted): the API writes its half whole again."""
    while True:
        await asyncio.sleep(ROUTES_CHECK_SECONDS)
        try:
            if await asyncio.to_thread(_rewrite_lost_routes, context):
                logger.warning("the route table was not whole in Redis: wrote every app's routing again")
        except Exception:
            logger.exception("cannot check the route table in Redis; retrying")


def _end_orphaned_sessions(context: ApiContext) -> None:
    """An attached one-off lives as long as its session, and sessions end with the API process."""
    runtime = runtime_for(context.settings)
    if isinstance(runtime, InteractiveRuntime):
        for name in runtime.remove_attached_dynos():
            logger.info("removed %s: its wharf run session ended with the previous API process", name)


async def _sweep_review_apps(context: ApiContext) -> None:
    """Destroy idle review apps now and then; one API process per interval does it (a Redis key)."""
    interval = context.settings.wharf_review_sweep_seconds
    while True:
        try:
            if context.redis.set(REVIEW_SWEEP_KEY, b"1", nx=True, ex=max(1, int(interval))):
                for name in await asyncio.to_thread(
                    sweep_idle_review_apps, settings=context.settings, client=context.redis
                ):
                    logger.info("destroyed review app %s: idle longer than its pipeline allows", name)
        except Exception:
            logger.exception("review app sweep failed; retrying at the next interval")
        await asyncio.sleep(interval)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    context = build_context(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        _publish_routes(context)
        _end_orphaned_sessions(context)
        background = [
            asyncio.create_task(_sweep_review_apps(context)),
            asyncio.create_task(_keep_routes_whole(context)),
        ]
        yield
        for task in background:
            task.cancel()

    app = FastAPI(
        title="Wharf",
        summary="Self-hosted platform-as-a-service: the control-plane API.",
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.context = context
    # Formation, config and release changes made through any route wake the scheduler once committed.
    install_change_notifier(lambda: context.redis, (App, Formation, Release))
    # Audit events of changes made here become `app[api]` lines of the app's log.
    install_platform_lines(settings)
    install_error_handlers(app)
    for router in API_ROUTERS:
        app.include_router(router, prefix="/api")
    # Outside monitors (Nagios, Monit, Pingdom) look for /health at the top.
    app.include_router(health.router, include_in_schema=False)
    # Prometheus scrapes /metrics at the top, with an operator's token.
    app.include_router(metrics.prometheus_router)
    app.include_router(git_http.router)
    install_dashboard(app)
    app.add_middleware(DatabaseAdmission, permits=permits_for(POOL_CAPACITY))
    if settings.wharf_rate_limits:
        app.add_middleware(
            RateLimitMiddleware,
            limiter=RateLimiter(context.redis, settings, async_url=settings.resolved_redis_url),
            owners=TokenOwners(context.database_url),
        )
    return app
