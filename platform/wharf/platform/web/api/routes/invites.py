"""The caller's invites: those they handed out and who redeemed them."""

from __future__ import annotations

from fastapi import APIRouter

from wharf.platform.actions import invites
from wharf.platform.actions.accounts import normalize_email
from wharf.platform.actions.waitlist import send_invite_email
from wharf.platform.models import Invite
from wharf.platform.web.api.schemas.invites import InviteCreate, InviteCreated, InvitePublic, Redemption
from wharf.platform.web.deps import ContextDep, CurrentUser, SessionDep

router = APIRouter(prefix="/invites", tags=["invites"])


def invite_public(invite: Invite) -> InvitePublic:
    return InvitePublic(
        id=invite.id,
        hint=f"…{invite.hint}",
        uses=invite.uses,
        max_uses=invite.max_uses,
        expires_at=invite.expires_at,
        note=invite.note,
        created_at=invite.created_at,
        redeemed_by=[Redemption(email=r.user.email, redeemed_at=r.redeemed_at) for r in invite.redemptions],
    )


@router.get("")
def list_invites(user: CurrentUser, session: SessionDep) -> list[InvitePublic]:
    return [invite_public(i) for i in invites.list_user_invites(session=session, user=user)]


@router.post("", status_code=201)
def create_invite(
    body: InviteCreate, user: CurrentUser, session: SessionDep, context: ContextDep
) -> InviteCreated:
    note = body.note or (f"for {body.email}" if body.email else "")
    made = invites.create_user_invite(
        session=session, user=user, default_quota=context.settings.wharf_invite_quota, note=note
    )
    if body.email is not None:
        address = normalize_email(body.email)
        send_invite_email(
            session=session, settings=context.settings, to=address, code=made.code, inviter=user.email
        )
    return InviteCreated(**invite_public(made.invite).model_dump(), code=made.code)
