"""The caller's API tokens: list, create (the secret is shown once) and revoke."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Response

from wharf.platform.actions import accounts
from wharf.platform.web.api.schemas.accounts import TokenCreate, TokenCreated, TokenPublic
from wharf.platform.web.deps import CurrentTokenDep, CurrentUser, RowId, SessionDep

router = APIRouter(prefix="/tokens", tags=["tokens"])


@router.get("")
def list_tokens(current: CurrentTokenDep, session: SessionDep) -> list[TokenPublic]:
    user, used = current
    listed = [TokenPublic.model_validate(t) for t in accounts.list_tokens(session=session, user=user)]
    return [token.model_copy(update={"current": token.id == used.id}) for token in listed]


@router.post("", status_code=201)
def create_token(body: TokenCreate, user: CurrentUser, session: SessionDep) -> TokenCreated:
    lifetime = timedelta(seconds=body.expires_in) if body.expires_in is not None else None
    issued = accounts.issue_token(
        session=session, user=user, description=body.description, expires_in=lifetime
    )
    public = TokenPublic.model_validate(issued.token)
    return TokenCreated(**public.model_dump(), token=issued.secret)


@router.delete("/{token_id}", status_code=204)
def revoke_token(token_id: RowId, user: CurrentUser, session: SessionDep) -> Response:
    accounts.revoke_token(session=session, user=user, token_id=token_id)
    return Response(status_code=204)
