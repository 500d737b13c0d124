"""Reversing tokens: the decryption primitive, which needs the tenant's detokenize PRIVATE key.

Only the gateway holds that key (:mod:`compliance.token_keys`) and calls this
for an authenticated tenant admin, after the decision is audited
(``klikkflow_pipelines.gateway.detokenize_route``). Run workers cannot call it
usefully: what they hold (:class:`compliance.crypto.Keys`) makes tokens but
does not open them.

Legacy ``tok1_`` tokens (AES-SIV under a key derived from the tenant master
key) are opened only when ``legacy_key`` (:func:`compliance.crypto.legacy_token_key`)
is given; new tokenization writes ``tok2_`` only.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from typing import TYPE_CHECKING

from compliance.crypto import (
    LEGACY_TOKEN_PREFIX,
    PUBLIC_KEY_BYTES,
    TOKEN_INFO,
    TOKEN_NONCE,
    TOKEN_PREFIX,
    token_cipher_key,
)

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

_LEGACY_AD = b"klikkflow-token-v1"


class InvalidToken(ValueError):
    """A value is not a token of this tenant (another tenant's key, altered, or not a token at all)."""

    def __init__(self, index: int, message: str) -> None:
        super().__init__(f"token {index}: {message}")
        self.index = index


def _unb64(body: str) -> bytes:
    return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))


def _open_v2(body: str, private_key: X25519PrivateKey, tenant_public: bytes) -> str:
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    raw = _unb64(body)
    if len(raw) < PUBLIC_KEY_BYTES + 16:
        raise ValueError("too short")
    ephemeral_public = raw[:PUBLIC_KEY_BYTES]
    shared = private_key.exchange(X25519PublicKey.from_public_bytes(ephemeral_public))
    key = token_cipher_key(shared, ephemeral_public, tenant_public)
    plain = AESGCM(key).decrypt(TOKEN_NONCE, raw[PUBLIC_KEY_BYTES:], TOKEN_INFO)
    return plain.decode("utf-8", errors="surrogatepass")


def _open_v1(body: str, legacy_key: bytes) -> str:
    from cryptography.hazmat.primitives.ciphers.aead import AESSIV

    return AESSIV(legacy_key).decrypt(_unb64(body), [_LEGACY_AD]).decode("utf-8", errors="surrogatepass")


def detokenize_values(
    tokens: Iterable[str | None],
    private_key: X25519PrivateKey,
    legacy_key: bytes | None = None,
) -> list[str | None]:
    """The original values of ``tokens`` (None stays None), opened with the tenant's private key.

    Raises :class:`InvalidToken` naming the first token that is not this tenant's
    (made for another tenant, altered, not a token, or a legacy ``tok1_`` token
    without ``legacy_key``). Nothing is returned unless every token opens.
    """
    from cryptography.exceptions import InvalidTag

    tenant_public = private_key.public_key().public_bytes_raw()
    out: list[str | None] = []
    for index, token in enumerate(tokens):
        if token is None:
            out.append(None)
            continue
        try:
            if token.startswith(TOKEN_PREFIX):
                out.append(_open_v2(token[len(TOKEN_PREFIX) :], private_key, tenant_public))
            elif token.startswith(LEGACY_TOKEN_PREFIX) and legacy_key is not None:
                out.append(_open_v1(token[len(LEGACY_TOKEN_PREFIX) :], legacy_key))
            elif token.startswith(LEGACY_TOKEN_PREFIX):
                raise InvalidToken(
                    index,
                    "a legacy tok1_ token; this gateway has no legacy key for the tenant "
                    "(see KLIKKFLOW_LEGACY_TENANT_KEY_DIR), re-tokenize the data to tok2_",
                )
            else:
                raise InvalidToken(index, f"not a KlikkFlow token (they start with {TOKEN_PREFIX})")
        except (InvalidTag, ValueError, binascii.Error) as exc:
            if isinstance(exc, InvalidToken):
                raise
            raise InvalidToken(index, "not made for this tenant's key, or altered") from None
    return out
