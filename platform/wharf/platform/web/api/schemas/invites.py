"""Bodies for invites."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class InviteCreate(BaseModel):
    note: str = Field(default="", max_length=200)
    # Email the invite's redeem link to this address.
    email: str | None = Field(default=None, max_length=254)


class Redemption(BaseModel):
    email: str
    redeemed_at: datetime


class InvitePublic(BaseModel):
    id: int
    hint: str
    uses: int
    max_uses: int
    expires_at: datetime | None
    note: str
    created_at: datetime
    redeemed_by: list[Redemption]


class InviteCreated(InvitePublic):
    code: str
