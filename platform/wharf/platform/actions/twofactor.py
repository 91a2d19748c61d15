"""Optional TOTP two-factor authentication, with single-use recovery codes.

The TOTP secret is stored encrypted with the host's secret key; recovery codes as SHA-256 digests
(each carries 80 random bits). A TOTP code is accepted once: the step it was made for is remembered.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

import pyotp
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from wharf.platform.db import utcnow
from wharf.platform.errors import BadRequest, Conflict, Unauthorized
from wharf.platform.models import RecoveryCode, TotpFactor, User
from wharf.platform.security.passwords import verify_password
from wharf.platform.security.secretbox import SecretBox
from wharf.platform.security.tokens import digest

ISSUER = "Wharf"
RECOVERY_CODES = 10
_RECOVERY_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


def secret_box(secret_key: str) -> SecretBox:
    return SecretBox(secret_key, "totp")


@dataclass(frozen=True)
class Enrollment:
    secret: str
    uri: str


def new_recovery_code() -> str:
    chars = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(16))
    return "-".join(chars[i : i + 4] for i in range(0, 16, 4))


def _recovery_digest(code: str) -> str:
    return digest(code.strip().lower().replace("-", "").replace(" ", ""))


def confirmed_factor(*, session: Session, user: User) -> TotpFactor | None:
    factor = session.get(TotpFactor, user.id)
    return factor if factor is not None and factor.confirmed_at is not None else None


def start_enrollment(*, session: Session, box: SecretBox, user: User) -> Enrollment:
    """A new secret, not yet in force: `confirm_enrollment` with a code from it turns it on."""
    if confirmed_factor(session=session, user=user) is not None:
        raise Conflict(
            "Two-factor authentication is on already. Turn it off first with `wharf auth:2fa:disable`.",
            error_id="2fa_enabled",
        )
    secret = pyotp.random_base32()
    factor = session.get(TotpFactor, user.id)
    if factor is None:
        factor = TotpFactor(user_id=user.id, secret_encrypted=box.seal(secret), last_step=0)
        session.add(factor)
    else:
        factor.secret_encrypted = box.seal(secret)
        factor.last_step = 0
    session.flush()
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)
    return Enrollment(secret=secret, uri=uri)


def _matching_step(secret: str, code: str) -> int | None:
    """The 30-second step (this one or a neighbour, for clock drift) the code belongs to."""
    cleaned = code.strip().replace(" ", "")
    if not cleaned.isdigit() or len(cleaned) != 6:
        return None
    totp = pyotp.TOTP(secret)
    now = time.time()
    for drift in (0, -1, 1):
        at = now + drift * totp.interval
        if secrets.compare_digest(totp.at(at), cleaned):
            return int(totp.timecode(at))
    return None


def _use_totp(*, session: Session, box: SecretBox, factor: TotpFactor, code: str) -> bool:
    step = _matching_step(box.open(factor.secret_encrypted), code)
    if step is None:
        return False
    # Conditional, so that one code cannot be used twice even by concurrent logins.
    result = session.execute(
        update(TotpFactor)
        .where(TotpFactor.user_id == factor.user_id, TotpFactor.last_step < step)
        .values(last_step=step)
    )
    session.expire(factor)
    return bool(result.rowcount)  # type: ignore[attr-defined]


def confirm_enrollment(*, session: Session, box: SecretBox, user: User, code: str) -> list[str]:
    """Turn two-factor on with a code from the new secret; returns the recovery codes (shown once)."""
    factor = session.get(TotpFactor, user.id)
    if factor is None:
        raise BadRequest("Start with `wharf auth:2fa:enable`.", error_id="2fa_not_started")
    if factor.confirmed_at is not None:
        raise Conflict("Two-factor authentication is on already.", error_id="2fa_enabled")
    if not _use_totp(session=session, box=box, factor=factor, code=code):
        raise Unauthorized(
            "That code does not match. Check the time on your device and try the current code.",
            error_id="otp_invalid",
        )
    factor.confirmed_at = utcnow()
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = [new_recovery_code() for _ in range(RECOVERY_CODES)]
    session.add_all(RecoveryCode(user_id=user.id, code_hash=_recovery_digest(c)) for c in codes)
    session.flush()
    return codes


def verify_second_factor(*, session: Session, box: SecretBox, user: User, code: str) -> bool:
    """A current TOTP code, or an unused recovery code (used up by this call)."""
    factor = confirmed_factor(session=session, user=user)
    if factor is None:
        return True
    if _use_totp(session=session, box=box, factor=factor, code=code):
        return True
    result = session.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == _recovery_digest(code),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=utcnow())
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def disable(*, session: Session, box: SecretBox, user: User, password: str, code: str) -> None:
    """Turn two-factor off; needs the password and a code (or a recovery code)."""
    if confirmed_factor(session=session, user=user) is None:
        raise BadRequest("Two-factor authentication is not on.", error_id="2fa_disabled")
    if not verify_password(user.password_hash, password):
        raise Unauthorized("The password is wrong.", error_id="invalid_credentials")
    if not verify_second_factor(session=session, box=box, user=user, code=code):
        raise Unauthorized("That code does not match.", error_id="otp_invalid")
    session.execute(delete(TotpFactor).where(TotpFactor.user_id == user.id))
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))


def remaining_recovery_codes(*, session: Session, user: User) -> int:
    query = select(RecoveryCode.id).where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    return len(session.scalars(query).all())
