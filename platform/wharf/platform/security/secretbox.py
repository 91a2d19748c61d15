"""Encryption at rest for small secrets (TOTP seeds), with a key derived from the host's secret key."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken


class SecretBox:
    def __init__(self, secret_key: str, purpose: str) -> None:
        derived = hashlib.sha256(f"wharf-{purpose}:".encode() + secret_key.encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))

    def seal(self, secret: str) -> bytes:
        return self._fernet.encrypt(secret.encode())

    def open(self, sealed: bytes) -> str:
        try:
            return self._fernet.decrypt(sealed).decode()
        except InvalidToken as exc:
            raise RuntimeError(
                "A stored secret cannot be decrypted: WHARF_SECRET_KEY differs from the key "
                "it was stored with."
            ) from exc
