"""The public beta waitlist: join with an email, confirm it with the emailed link."""

from __future__ import annotations

from fastapi import APIRouter, Request

from wharf.platform.actions import waitlist
from wharf.platform.web.api.schemas.account_security import EmailRequest, LinkToken, Notice
from wharf.platform.web.deps import ContextDep, SessionDep, client_address

router = APIRouter(prefix="/waitlist", tags=["waitlist"])


@router.post("", status_code=202)
def join(body: EmailRequest, request: Request, session: SessionDep, context: ContextDep) -> Notice:
    message = waitlist.join_waitlist(
        session=session,
        limiter=context.limiter,
        settings=context.settings,
        client_address=client_address(request),
        email=body.email,
    )
    return Notice(message=message)


@router.post("/confirm")
def confirm(body: LinkToken, session: SessionDep) -> Notice:
    waitlist.confirm_waitlist(session=session, token=body.token)
    return Notice(message="Your email is confirmed: you will get an invite when a place opens.")
