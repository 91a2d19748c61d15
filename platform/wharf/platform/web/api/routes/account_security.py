"""The caller's account: password change and reset, two-factor authentication, deletion."""

from __future__ import annotations

from fastapi import APIRouter, Request

from wharf.platform.actions import passwords, twofactor
from wharf.platform.actions.account_deletion import delete_account
from wharf.platform.addons import get_addon_providers
from wharf.platform.web.api.schemas.account_security import (
    AccountDelete,
    AccountDeleted,
    EmailRequest,
    Notice,
    PasswordChange,
    PasswordReset,
    RecoveryCodes,
    TwoFactorCode,
    TwoFactorDisable,
    TwoFactorEnrollment,
    TwoFactorStatus,
)
from wharf.platform.web.deps import ContextDep, CurrentTokenDep, CurrentUser, SessionDep, client_address

router = APIRouter(tags=["accounts"])


@router.post("/account/password")
def change_password(
    body: PasswordChange, current: CurrentTokenDep, session: SessionDep, context: ContextDep
) -> Notice:
    user, token = current
    passwords.change_password(
        session=session,
        limiter=context.limiter,
        settings=context.settings,
        user=user,
        current_token_id=token.id,
        current_password=body.current_password,
        new_password=body.new_password,
    )
    return Notice(message="Password changed. Your other sessions and tokens were revoked.")


@router.post("/password-reset", status_code=202)
def request_password_reset(
    body: EmailRequest, request: Request, session: SessionDep, context: ContextDep
) -> Notice:
    message = passwords.request_reset(
        session=session,
        limiter=context.limiter,
        settings=context.settings,
        client_address=client_address(request),
        email=body.email,
    )
    return Notice(message=message)


@router.post("/password-reset/confirm")
def reset_password(body: PasswordReset, session: SessionDep) -> Notice:
    passwords.reset_password(session=session, token=body.token, new_password=body.new_password)
    return Notice(message="Password changed. Log in with the new one; every earlier session was ended.")


@router.get("/account/2fa")
def two_factor_status(user: CurrentUser, session: SessionDep) -> TwoFactorStatus:
    enabled = twofactor.confirmed_factor(session=session, user=user) is not None
    left = twofactor.remaining_recovery_codes(session=session, user=user) if enabled else 0
    return TwoFactorStatus(enabled=enabled, recovery_codes_left=left)


@router.post("/account/2fa", status_code=201)
def start_two_factor(user: CurrentUser, session: SessionDep, context: ContextDep) -> TwoFactorEnrollment:
    box = twofactor.secret_box(context.settings.secret_key())
    enrollment = twofactor.start_enrollment(session=session, box=box, user=user)
    return TwoFactorEnrollment(secret=enrollment.secret, uri=enrollment.uri)


@router.post("/account/2fa/confirm")
def confirm_two_factor(
    body: TwoFactorCode, user: CurrentUser, session: SessionDep, context: ContextDep
) -> RecoveryCodes:
    box = twofactor.secret_box(context.settings.secret_key())
    codes = twofactor.confirm_enrollment(session=session, box=box, user=user, code=body.code)
    return RecoveryCodes(recovery_codes=codes)


@router.post("/account/2fa/disable")
def disable_two_factor(
    body: TwoFactorDisable, user: CurrentUser, session: SessionDep, context: ContextDep
) -> Notice:
    box = twofactor.secret_box(context.settings.secret_key())
    twofactor.disable(session=session, box=box, user=user, password=body.password, code=body.code)
    return Notice(message="Two-factor authentication is off.")


@router.post("/account/delete")
def remove_account(
    body: AccountDelete, user: CurrentUser, session: SessionDep, context: ContextDep
) -> AccountDeleted:
    destroyed = delete_account(
        session=session,
        limiter=context.limiter,
        cipher=context.cipher,
        client=context.redis,
        settings=context.settings,
        providers=get_addon_providers(context.settings),
        user=user,
        confirm=body.confirm,
        password=body.password,
    )
    return AccountDeleted(destroyed_apps=destroyed)
