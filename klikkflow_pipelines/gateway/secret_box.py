"""Authenticated encryption of small secrets (AES-GCM) under sub-keys of the gateway's secret key.

Each purpose gets its own 256-bit key, derived with HKDF-SHA256 from the gateway
secret key and the purpose name, so a value sealed for one purpose never opens
for another, and the gateway key itself never encrypts anything. ``context``
(associated data, e.g. the user name) binds a sealed value to its owner: a row
copied to another account does not open.
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

NONCE_BYTES = 12


def derive_key(secret_key: str, purpose: str) -> bytes:
    """A 256-bit sub-key of ``secret_key`` for one ``purpose`` (HKDF-SHA256)."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=f"klikkflow.gateway.{purpose}".encode())
    return hkdf.derive(secret_key.encode())


class SecretBox:
    """Seal and open values for one purpose (URL-safe base64 of nonce + ciphertext + tag)."""

    def __init__(self, secret_key: str, purpose: str) -> None:
        self._aead = AESGCM(derive_key(secret_key, purpose))

    def seal(self, plaintext: str, context: str) -> str:
        """Encrypt ``plaintext`` bound to ``context``."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = nonce + self._aead.encrypt(nonce, plaintext.encode(), context.encode())
        return base64.urlsafe_b64encode(sealed).decode().rstrip("=")

    def open(self, sealed: str, context: str) -> str | None:
        """The plaintext, or None when ``sealed`` was altered, is for another context or another key."""
        try:
            raw = base64.urlsafe_b64decode(sealed + "=" * (-len(sealed) % 4))
            return self._aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], context.encode()).decode()
        except (InvalidTag, ValueError, UnicodeDecodeError):
            return None
