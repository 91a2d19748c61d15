"""Bodies for password change and reset, two-factor, account deletion and the waitlist."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class EmailRequest(BaseModel):
    email: str = Field(min_length=3, max_length=254)


class Notice(BaseModel):
    message: str


class PasswordChange(BaseModel):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024)


class PasswordReset(BaseModel):
    token: str = Field(min_length=1, max_length=128)
    new_password: str = Field(min_length=1, max_length=1024)


class LinkToken(BaseModel):
    token: str = Field(min_length=1, max_length=128)


class TwoFactorEnrollment(BaseModel):
    secret: str
    uri: str


class TwoFactorCode(BaseModel):
    code: str = Field(min_length=1, max_length=64)


class TwoFactorDisable(BaseModel):
    password: str = Field(min_length=1, max_length=1024)
    code: str = Field(min_length=1, max_length=64)


class RecoveryCodes(BaseModel):
    recovery_codes: list[str]


class TwoFactorStatus(BaseModel):
    enabled: bool
    recovery_codes_left: int


class AccountDelete(BaseModel):
    confirm: str = Field(min_length=1, max_length=254)
    password: str = Field(min_length=1, max_length=1024)


class AccountDeleted(BaseModel):
    destroyed_apps: list[str]


class WaitlistEntryPublic(BaseModel):
    email: str
    created_at: datetime
    confirmed_at: datetime | None
    approved_at: datetime | None
    status: str


class WaitlistApprove(BaseModel):
    emails: list[str] | None = Field(default=None, max_length=500)
    next: int | None = Field(default=None, ge=1, le=500)
