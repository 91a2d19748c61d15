"""The caller's SSH keys for `git push ssh://...`: list, add, remove."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from wharf.platform.actions import ssh_keys
from wharf.platform.web.deps import CurrentUser, SessionDep

router = APIRouter(prefix="/account/keys", tags=["accounts"])


class SshKeyCreate(BaseModel):
    public_key: str = Field(max_length=ssh_keys.MAX_KEY_CHARS)


class SshKeyPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    fingerprint: str
    comment: str
    public_key: str
    created_at: datetime


@router.get("")
def list_keys(user: CurrentUser, session: SessionDep) -> list[SshKeyPublic]:
    return [SshKeyPublic.model_validate(k) for k in ssh_keys.list_keys(session=session, user=user)]


@router.post("", status_code=201)
def add_key(body: SshKeyCreate, user: CurrentUser, session: SessionDep) -> SshKeyPublic:
    return SshKeyPublic.model_validate(
        ssh_keys.add_key(session=session, user=user, public_key=body.public_key)
    )


@router.delete("")
def remove_key(
    user: CurrentUser, session: SessionDep, key: Annotated[str, Query(min_length=1, max_length=200)]
) -> SshKeyPublic:
    """`key`: the fingerprint (SHA256:...) or the comment of one of the caller's keys."""
    return SshKeyPublic.model_validate(ssh_keys.remove_key(session=session, user=user, which=key))
