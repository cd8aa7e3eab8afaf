"""Encryption at rest for provider and exchange keys (Fernet, from `cryptography`).

Keys come from ``settings.ENCRYPTION_KEYS`` (the ``ENCRYPTION_KEY`` variable,
newest first, so old keys still decrypt during a rotation). Only in DEBUG, and
only when no key is configured, one is derived from ``SECRET_KEY``.
"""
from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class SecretUnreadable(Exception):
    """A stored secret cannot be decrypted with the configured keys."""


def _fernet() -> MultiFernet:
    keys = list(settings.ENCRYPTION_KEYS)
    if not keys:
        # settings refuses a missing key unless DEBUG is on.
        digest = hashlib.sha256(b"arena-secrets:" + settings.SECRET_KEY.encode()).digest()
        keys = [base64.urlsafe_b64encode(digest).decode()]
    return MultiFernet([Fernet(key) for key in keys])


def encrypt(plaintext: str) -> str:
    """Ciphertext (url-safe text) for a secret; the empty string stays empty."""
    if not plaintext:
        return ""
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    if not ciphertext:
        return ""
    try:
        return _fernet().decrypt(ciphertext.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable(
            "a stored key cannot be decrypted with ENCRYPTION_KEY: it was encrypted with "
            "another key; add the old key after the new one, or re-enter the secret"
        ) from None


class EncryptedSecret:
    """A descriptor giving a model a plaintext attribute over a ciphertext column.

    ``provider.api_key = "sk-..."`` stores only the ciphertext in
    ``api_key_encrypted``; reading ``provider.api_key`` decrypts it.
    """

    def __init__(self, column: str) -> None:
        self.column = column

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, instance: object, owner: type | None = None) -> str:
        if instance is None:
            return self  # type: ignore[return-value]
        return decrypt(getattr(instance, self.column))

    def __set__(self, instance: object, value: str | None) -> None:
        setattr(instance, self.column, encrypt(value or ""))


def is_set(ciphertext: str) -> str:
    """What a page may show about a secret: whether one is stored, never any of it."""
    return "set" if ciphertext else "not set"
