"""Keyed hashing and reversible tokenization of whole columns, one cryptographic call per distinct value.

Both are deterministic, so equal inputs give equal outputs and joins on the
protected column still work. Each distinct value is processed once and the
results are joined back to the rows, which is the fast path for real data
(customers, accounts and e-mail addresses repeat across rows).

- hash: HMAC-SHA256 with the tenant's hash key, hex encoded.
- tokenize: AES-SIV (RFC 5297, deterministic authenticated encryption) with the
  tenant's token key; ``tok1_`` + URL-safe base64. Only :func:`detokenize_values`
  reverses it, and only :func:`compliance.detokenize.detokenize` (the audited
  admin call) should be used by people.
"""

from __future__ import annotations

import base64
import hmac
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import polars as pl

TOKEN_PREFIX = "tok1_"
_AD = b"klikkflow-token-v1"


@dataclass(frozen=True)
class Keys:
    """The tenant's derived keys; build with :func:`derive_keys` from the master key in the secrets store."""

    hash_key: bytes
    token_key: bytes

    def __repr__(self) -> str:
        return "Keys(<redacted>)"


class KeyMaterialError(ValueError):
    """The master key is missing or too short."""


def derive_keys(master_key: bytes) -> Keys:
    """Derive independent hash and token keys from a tenant master key (at least 32 bytes) with HKDF."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    if len(master_key) < 32:
        raise KeyMaterialError(
            "the tenant key must be at least 32 bytes (64 hex characters or 44 base64 characters)"
        )

    def _derive(info: bytes, length: int) -> bytes:
        return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info).derive(master_key)

    return Keys(hash_key=_derive(b"klikkflow/hash", 32), token_key=_derive(b"klikkflow/tokenize", 64))


def hash_value(key: bytes, value: str) -> str:
    """HMAC-SHA256 of one value, hex encoded."""
    return hmac.digest(key, value.encode("utf-8", errors="surrogatepass"), "sha256").hex()


def _per_distinct(series: pl.Series, protect: Callable[[pl.Series], pl.Series]) -> pl.Series:
    """Apply ``protect`` to the distinct non-null values once and map the results back to every row."""
    text = series if series.dtype == pl.String else series.cast(pl.String, strict=False)
    distinct = text.drop_nulls().unique()
    mapped = protect(distinct)
    return text.replace_strict(distinct, mapped, default=None, return_dtype=pl.String).alias(series.name)


def hash_distinct(distinct: pl.Series, key: bytes) -> pl.Series:
    """Keyed HMAC-SHA256 of each value of ``distinct`` (non-null strings), in order."""
    return pl.Series([hash_value(key, v) for v in distinct], dtype=pl.String)


def tokenize_distinct(distinct: pl.Series, key: bytes) -> pl.Series:
    """Deterministic reversible tokens of each value of ``distinct`` (non-null strings), in order."""
    from cryptography.hazmat.primitives.ciphers.aead import AESSIV

    cipher = AESSIV(key)

    def _token(value: str) -> str:
        sealed = cipher.encrypt(value.encode("utf-8", errors="surrogatepass"), [_AD])
        return TOKEN_PREFIX + base64.urlsafe_b64encode(sealed).decode("ascii").rstrip("=")

    return pl.Series([_token(v) for v in distinct], dtype=pl.String)


def hash_series(series: pl.Series, key: bytes) -> pl.Series:
    """Keyed HMAC-SHA256 of every value of ``series`` (nulls stay null)."""
    return _per_distinct(series, lambda distinct: hash_distinct(distinct, key))


def tokenize_series(series: pl.Series, key: bytes) -> pl.Series:
    """Deterministic reversible tokens for every value of ``series`` (nulls stay null)."""
    return _per_distinct(series, lambda distinct: tokenize_distinct(distinct, key))


class InvalidToken(ValueError):
    """A value is not a token made with this key."""


def detokenize_values(tokens: Iterable[str | None], key: bytes) -> list[str | None]:
    """Reverse :func:`tokenize_series`; raises :class:`InvalidToken` for foreign or altered tokens."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESSIV

    cipher = AESSIV(key)
    out: list[str | None] = []
    for token in tokens:
        if token is None:
            out.append(None)
            continue
        if not token.startswith(TOKEN_PREFIX):
            raise InvalidToken(f"{token[:16]!r} is not a KlikkFlow token (they start with {TOKEN_PREFIX})")
        body = token[len(TOKEN_PREFIX) :]
        try:
            sealed = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            out.append(cipher.decrypt(sealed, [_AD]).decode("utf-8", errors="surrogatepass"))
        except (InvalidTag, ValueError):
            raise InvalidToken(
                f"{token[:16]!r}... was not made with this tenant's key or was altered"
            ) from None
    return out
