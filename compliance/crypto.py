"""Keyed hashing and tokenization of whole columns, one cryptographic call per distinct value.

Both are deterministic, so equal inputs give equal outputs and joins on the
protected column still work. Each distinct value is processed once and the
results are joined back to the rows, which is the fast path for real data
(customers, accounts and e-mail addresses repeat across rows).

- hash: HMAC-SHA256 with the tenant's hash key, hex encoded.
- tokenize: ``tok2_`` tokens, sealed to the tenant's *detokenize public key*
  (ECIES over X25519 with a deterministic ephemeral key). The run worker that
  tokenizes holds only the public key and the token key (derived from the
  tenant master key), which make tokens but cannot open them: only the
  matching private key, which the gateway alone holds
  (:mod:`compliance.token_keys`), reverses a token
  (:func:`compliance.detokenize.detokenize_values`), for an audited tenant admin.

A ``tok2_`` token for value ``v``::

    e      = HMAC-SHA256(token_key, v)             # ephemeral X25519 scalar, same v -> same e
    E      = X25519(e, base point)                 # 32-byte ephemeral public key
    k      = HKDF-SHA256(X25519(e, P), salt=E || P, info="klikkflow-token-v2")   # P: tenant public key
    token  = "tok2_" + b64url(E || AES-256-GCM(k, nonce=0^12, v, aad="klikkflow-token-v2"))

The fixed nonce is safe because ``k`` is unique per distinct value (it is a
function of ``e``, so two different values never share a key). Knowing the
token key allows only what the keyed hash already allows: checking a guessed
value. ``tok1_`` (AES-SIV with a key every run worker could derive) is the
legacy format: no longer written; see :mod:`compliance.detokenize`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

TOKEN_PREFIX = "tok2_"
LEGACY_TOKEN_PREFIX = "tok1_"
TOKEN_INFO = b"klikkflow-token-v2"
TOKEN_NONCE = bytes(12)
PUBLIC_KEY_BYTES = 32
NO_PUBLIC_KEY = (
    "tokenize needs the tenant's detokenize public key: set KLIKKFLOW_TOKEN_PUBLIC_KEY "
    "(`klikkflow token-public-key TENANT` prints it), or start the tenant with `klikkflow dev` "
    "or the gateway, which publish it to the tenant home (secrets/detokenize.pub)"
)


@dataclass(frozen=True)
class Keys:
    """What a run worker holds to protect values; build with :func:`derive_keys`.

    ``token_public_key`` is the tenant's raw 32-byte X25519 detokenize public
    key (None when not configured: tokenize rules then fail with a clear error).
    Nothing here reverses a ``tok2_`` token.
    """

    hash_key: bytes
    token_key: bytes
    token_public_key: bytes | None = None

    def __repr__(self) -> str:
        return "Keys(<redacted>)"


class KeyMaterialError(ValueError):
    """The master key (or the detokenize public key) is missing or malformed."""


def _hkdf(key_material: bytes, info: bytes, length: int, salt: bytes | None = None) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(key_material)


def _check_master(master_key: bytes) -> None:
    if len(master_key) < 32:
        raise KeyMaterialError(
            "the tenant key must be at least 32 bytes (64 hex characters or 44 base64 characters)"
        )


def derive_keys(master_key: bytes, token_public_key: bytes | None = None) -> Keys:
    """Derive the hash key and the token key from a tenant master key (at least 32 bytes) with HKDF."""
    _check_master(master_key)
    if token_public_key is not None and len(token_public_key) != PUBLIC_KEY_BYTES:
        raise KeyMaterialError(
            f"the detokenize public key must be {PUBLIC_KEY_BYTES} bytes (64 hex characters), "
            f"not {len(token_public_key)}"
        )
    return Keys(
        hash_key=_hkdf(master_key, b"klikkflow/hash", 32),
        token_key=_hkdf(master_key, b"klikkflow/tokenize-v2", 32),
        token_public_key=token_public_key,
    )


def legacy_token_key(master_key: bytes) -> bytes:
    """The AES-SIV key of legacy ``tok1_`` tokens (only the gateway's legacy path uses it)."""
    _check_master(master_key)
    return _hkdf(master_key, b"klikkflow/tokenize", 64)


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
    """Keyed HMAC-SHA256 of each value of ``distinct`` (non-null strings), in order.

    The same digests as :func:`hash_value` (HMAC as RFC 2104 builds it), twice as fast: the
    SHA-256 states after the key's inner and outer pads are computed once and copied per value,
    instead of being derived from the key for each value.
    """
    block = key if len(key) <= 64 else hashlib.sha256(key).digest()
    block = block.ljust(64, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))
    out = []
    for value in distinct:
        digest = inner.copy()
        digest.update(value.encode("utf-8", errors="surrogatepass"))
        mac = outer.copy()
        mac.update(digest.digest())
        out.append(mac.hexdigest())
    return pl.Series(out, dtype=pl.String)


def hash_series(series: pl.Series, key: bytes) -> pl.Series:
    """Keyed HMAC-SHA256 of every value of ``series`` (nulls stay null)."""
    return _per_distinct(series, lambda distinct: hash_distinct(distinct, key))


def token_cipher_key(shared: bytes, ephemeral_public: bytes, tenant_public: bytes) -> bytes:
    """The AES-256-GCM key of one token, from the X25519 shared secret (used by both directions)."""
    return _hkdf(shared, TOKEN_INFO, 32, salt=ephemeral_public + tenant_public)


def tokenizer(token_key: bytes, public_key: bytes | None) -> Callable[[str], str]:
    """A function from one value to its ``tok2_`` token for the tenant with ``public_key``."""
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if public_key is None:
        raise KeyMaterialError(NO_PUBLIC_KEY)
    tenant = X25519PublicKey.from_public_bytes(public_key)

    def _token(value: str) -> str:
        plain = value.encode("utf-8", errors="surrogatepass")
        ephemeral = X25519PrivateKey.from_private_bytes(hmac.digest(token_key, plain, "sha256"))
        ephemeral_public = ephemeral.public_key().public_bytes_raw()
        key = token_cipher_key(ephemeral.exchange(tenant), ephemeral_public, public_key)
        sealed = AESGCM(key).encrypt(TOKEN_NONCE, plain, TOKEN_INFO)
        return TOKEN_PREFIX + base64.urlsafe_b64encode(ephemeral_public + sealed).decode("ascii").rstrip("=")

    return _token


def tokenize_series(series: pl.Series, token_key: bytes, public_key: bytes | None) -> pl.Series:
    """Deterministic ``tok2_`` tokens for every value of ``series`` (nulls stay null).

    Raises :class:`KeyMaterialError` when the tenant's detokenize public key is not configured.
    """
    return _per_distinct(series, lambda distinct: tokenize_distinct(distinct, token_key, public_key))


def tokenize_distinct(distinct: pl.Series, token_key: bytes, public_key: bytes | None) -> pl.Series:
    """Deterministic ``tok2_`` tokens of each value of ``distinct`` (non-null strings), in order."""
    token = tokenizer(token_key, public_key)
    return pl.Series([token(v) for v in distinct], dtype=pl.String)
