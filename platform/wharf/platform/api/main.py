"""The API application: routers, error handlers and the shared context."""

from __future__ import annotations

from fastapi import FastAPI

from wharf.platform.api.context import build_context
from wharf.platform.api.errors import install_error_handlers
from wharf.platform.api.routes import (
    accounts,
    apps,
    builds,
    config,
    formation,
    health,
    invites,
    releases,
    tokens,
)
from wharf.platform.git import http as git_http
from wharf.platform.settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        title="Wharf",
        summary="Self-hosted platform-as-a-service: the control-plane API.",
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
    )
    app.state.context = build_context(settings)
    install_error_handlers(app)
    for module in (health, accounts, tokens, invites, apps, config, releases, formation, builds):
        app.include_router(module.router, prefix="/api")
    app.include_router(git_http.router)
    return app
