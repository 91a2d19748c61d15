"""Encryption at rest for config vars (Fernet: AES-128-CBC with HMAC-SHA256)."""

from __future__ import annotations

import base64
import hashlib
import json

from cryptography.fernet import Fernet, InvalidToken


class ConfigCipher:
    def __init__(self, secret_key: str) -> None:
        derived = hashlib.sha256(b"wharf-config-vars:" + secret_key.encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))

    def encrypt(self, config: dict[str, str]) -> bytes:
        return self._fernet.encrypt(json.dumps(config, sort_keys=True).encode())

    def decrypt(self, ciphertext: bytes) -> dict[str, str]:
        try:
            data = json.loads(self._fernet.decrypt(ciphertext))
        except InvalidToken as exc:
            raise RuntimeError(
                "Config vars cannot be decrypted: WHARF_SECRET_KEY differs from the key "
                "they were stored with."
            ) from exc
        if not isinstance(data, dict):
            raise RuntimeError("Stored config vars are not a mapping.")
        return {str(k): str(v) for k, v in data.items()}
