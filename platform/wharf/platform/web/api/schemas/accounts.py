"""Bodies for sign-up, login, users and tokens."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class SignupRequest(BaseModel):
    invite: str = Field(min_length=1, max_length=100)
    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=1, max_length=1024)


class LoginRequest(BaseModel):
    email: str = Field(min_length=1, max_length=254)
    password: str = Field(min_length=1, max_length=1024)
    # The two-factor code (TOTP or recovery code), for accounts that use two-factor authentication.
    otp: str | None = Field(default=None, max_length=64)


class UserPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    is_admin: bool
    invite_quota: int | None
    created_at: datetime


class SessionPublic(BaseModel):
    token: str
    user: UserPublic


class TokenCreate(BaseModel):
    description: str = Field(default="", max_length=200)
    # Seconds from now after which the token stops working; none: until revoked.
    expires_in: int | None = Field(default=None, ge=1, le=3650 * 24 * 3600)


class TokenPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    description: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None = None
    # The token this request was made with.
    current: bool = False


class TokenCreated(TokenPublic):
    token: str
