"""Custom domains, TLS certificates and maintenance mode: what the router serves for an app."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from wharf.platform.actions import certificate_status, certificates, domains
from wharf.platform.models import App, User
from wharf.platform.web.api.routes.apps import app_public
from wharf.platform.web.api.schemas.apps import AppPublic
from wharf.platform.web.context import ApiContext
from wharf.platform.web.deps import AdminApp, ContextDep, CurrentUser, MemberApp, RowId, SessionDep, ViewerApp

router = APIRouter(prefix="/apps/{app_name}", tags=["domains"])


class DomainCreate(BaseModel):
    hostname: str = Field(min_length=1, max_length=253)


class DomainPublic(BaseModel):
    hostname: str
    kind: str
    created_at: datetime | None


class CertificateCreate(BaseModel):
    certificate: str = Field(min_length=1, max_length=64 * 1024)
    private_key: str = Field(min_length=1, max_length=64 * 1024)
    redirect_http: bool = False


class CertificatePublic(BaseModel):
    # uploaded (`certs:add`), acm (automatic, for a custom domain) or local (the Wharf authority's).
    type: str
    # Only an uploaded certificate has one (`certs:remove ID`).
    id: int | None
    hostnames: list[str]
    fingerprint: str
    redirect_http: bool
    expires_at: datetime
    created_at: datetime | None


class AppUpdate(BaseModel):
    maintenance: bool | None = None


@router.get("/domains")
def list_domains(app: ViewerApp, session: SessionDep, context: ContextDep) -> list[DomainPublic]:
    default = DomainPublic(
        hostname=domains.default_hostname(app, context.settings), kind="default", created_at=None
    )
    custom = [
        DomainPublic(hostname=d.hostname, kind="custom", created_at=d.created_at)
        for d in domains.list_domains(session=session, app=app)
    ]
    return [default, *custom]


@router.post("/domains", status_code=201)
def add_domain(
    body: DomainCreate, app: AdminApp, user: CurrentUser, session: SessionDep, context: ContextDep
) -> DomainPublic:
    domain = domains.add_domain(
        session=session,
        client=context.redis,
        settings=context.settings,
        app=app,
        actor=user,
        hostname=body.hostname,
    )
    return DomainPublic(hostname=domain.hostname, kind="custom", created_at=domain.created_at)


@router.delete("/domains/{hostname}", status_code=204)
def remove_domain(
    hostname: str, app: AdminApp, user: CurrentUser, session: SessionDep, context: ContextDep
) -> Response:
    domains.remove_domain(
        session=session,
        client=context.redis,
        settings=context.settings,
        app=app,
        actor=user,
        hostname=hostname,
    )
    return Response(status_code=204)


@router.get("/certs")
def list_certificates(app: ViewerApp, session: SessionDep, context: ContextDep) -> list[CertificatePublic]:
    """Every certificate served for the app: uploaded ones, automatic (ACME) ones and the local one."""
    served = certificate_status.served_certificates(session=session, settings=context.settings, app=app)
    return [CertificatePublic(**dataclasses.asdict(cert)) for cert in served]


class AutomaticCertificatePublic(BaseModel):
    hostname: str
    status: str
    detail: str
    updated_at: str | None


@router.get("/certs/auto")
def automatic_certificates(
    app: ViewerApp, session: SessionDep, context: ContextDep
) -> list[AutomaticCertificatePublic]:
    """Each custom domain's certificate: uploaded, issued, pending, failing (with why) or off."""
    return [
        AutomaticCertificatePublic(**dataclasses.asdict(status))
        for status in certificate_status.automatic_certificates(
            session=session, client=context.redis, settings=context.settings, app=app
        )
    ]


def _set_acm(
    enabled: bool, app: App, user: User, session: Session, context: ApiContext, request: Request
) -> AppPublic:
    domains.set_acm(
        session=session, client=context.redis, settings=context.settings, app=app, actor=user, enabled=enabled
    )
    return app_public(app, settings=context.settings, request=request)


@router.post("/acm")
def enable_acm(
    app: AdminApp, user: CurrentUser, session: SessionDep, context: ContextDep, request: Request
) -> AppPublic:
    """Obtain certificates for the app's custom domains automatically (`wharf certs:auto:enable`)."""
    return _set_acm(True, app, user, session, context, request)


@router.delete("/acm")
def disable_acm(
    app: AdminApp, user: CurrentUser, session: SessionDep, context: ContextDep, request: Request
) -> AppPublic:
    """Stop obtaining automatic certificates; uploaded ones are still served (`wharf certs:auto:disable`)."""
    return _set_acm(False, app, user, session, context, request)


@router.post("/certs", status_code=201)
def add_certificate(
    body: CertificateCreate, app: AdminApp, user: CurrentUser, session: SessionDep, context: ContextDep
) -> CertificatePublic:
    cert = certificates.add_certificate(
        session=session,
        client=context.redis,
        settings=context.settings,
        app=app,
        actor=user,
        cert_pem=body.certificate,
        key_pem=body.private_key,
        redirect_http=body.redirect_http,
    )
    return CertificatePublic(
        type=certificate_status.UPLOADED,
        id=cert.id,
        hostnames=cert.hostnames.split(","),
        fingerprint=cert.fingerprint,
        redirect_http=cert.redirect_http,
        expires_at=cert.expires_at,
        created_at=cert.created_at,
    )


@router.delete("/certs/{certificate_id}", status_code=204)
def remove_certificate(
    certificate_id: RowId, app: AdminApp, user: CurrentUser, session: SessionDep, context: ContextDep
) -> Response:
    certificates.remove_certificate(
        session=session,
        client=context.redis,
        settings=context.settings,
        app=app,
        actor=user,
        certificate_id=certificate_id,
    )
    return Response(status_code=204)


@router.patch("")
def update_app(
    body: AppUpdate,
    app: MemberApp,
    user: CurrentUser,
    session: SessionDep,
    context: ContextDep,
    request: Request,
) -> AppPublic:
    if body.maintenance is not None:
        domains.set_maintenance(
            session=session,
            client=context.redis,
            settings=context.settings,
            app=app,
            actor=user,
            enabled=body.maintenance,
        )
    return app_public(app, settings=context.settings, request=request)
