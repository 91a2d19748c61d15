"""Random secrets: API tokens and invite codes, and the digests they are stored as.

Both carry far more than 80 bits of randomness, so a plain SHA-256 digest is a safe way to
store them: unlike passwords they cannot be guessed from a dictionary.
"""

from __future__ import annotations

import hashlib
import secrets

TOKEN_PREFIX = "wharf_"  # noqa: S105  (a label, not a secret)
# Crockford's base32 alphabet: no I, L, O or U, so codes survive being read aloud or retyped.
_INVITE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
INVITE_GROUPS = 4
INVITE_GROUP_LENGTH = 5  # 20 characters x 5 bits = 100 bits of randomness


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_api_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def new_invite_code() -> str:
    chars = "".join(secrets.choice(_INVITE_ALPHABET) for _ in range(INVITE_GROUPS * INVITE_GROUP_LENGTH))
    groups = [chars[i : i + INVITE_GROUP_LENGTH] for i in range(0, len(chars), INVITE_GROUP_LENGTH)]
    return "-".join(groups)


def normalize_invite_code(code: str) -> str:
    """Accept codes typed in lower case, without dashes or with confusable letters."""
    cleaned = code.upper().replace("-", "").replace(" ", "")
    cleaned = cleaned.replace("O", "0").replace("I", "1").replace("L", "1")
    groups = [cleaned[i : i + INVITE_GROUP_LENGTH] for i in range(0, len(cleaned), INVITE_GROUP_LENGTH)]
    return "-".join(groups)


def invite_digest(code: str) -> str:
    return digest(normalize_invite_code(code))
