"""Encryption at rest for OAuth secrets."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken

from core.errors import ConfigError


class SecretBox:
    """Encrypts and decrypts short secrets with a key derived from PM_SECRET_KEY."""

    def __init__(self, secret_key: str) -> None:
        if len(secret_key) < 16:
            raise ConfigError("PM_SECRET_KEY: expected at least 16 characters of random text")
        digest = hashlib.sha256(b"publish-manager/v1:" + secret_key.encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(digest))

    def seal(self, plain: str) -> str:
        """Return `plain` encrypted and authenticated, as text."""
        return self._fernet.encrypt(plain.encode()).decode("ascii")

    def open(self, sealed: str) -> str:
        """Return the plain text of `sealed`; a wrong key is a configuration error."""
        try:
            return self._fernet.decrypt(sealed.encode("ascii")).decode()
        except InvalidToken:
            raise ConfigError(
                "PM_SECRET_KEY does not match the key the stored tokens were encrypted with"
            ) from None
