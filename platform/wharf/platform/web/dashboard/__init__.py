"""The web dashboard: server-rendered pages (Jinja2) with htmx, at the API's address.

Pages call the same services with the same permission checks as the API; the session is an API
token in an HttpOnly cookie. `install_dashboard(app)` mounts it at `/` beside `/api` and `/git`.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from wharf.platform.web.dashboard.rendering import STATIC_DIR
from wharf.platform.web.dashboard.routes import (
    accounts,
    addons,
    apps,
    beta,
    changes,
    graphs,
    logs,
    pipelines,
    security,
)
from wharf.platform.web.dashboard.session import current_user_from_cookie

DASHBOARD_ROUTERS = (
    accounts.router,
    beta.router,
    security.router,
    apps.router,
    changes.router,
    addons.router,
    logs.router,
    graphs.router,
    pipelines.router,
)


def install_dashboard(app: FastAPI) -> None:
    for router in DASHBOARD_ROUTERS:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="dashboard-static")


__all__ = ["current_user_from_cookie", "install_dashboard"]
