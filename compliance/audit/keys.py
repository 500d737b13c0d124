"""The two audit keys: the writers' HMAC key and the checkpointer's Ed25519 signing key.

*Writer key* (symmetric, held by every process that appends: the gateway, the
tenant's daemon). ``KLIKKFLOW_AUDIT_KEY`` (at least 32 characters) wins;
otherwise a random key is created once in ``$KLIKKFLOW_HOME/secrets/audit.key``
(0600). Each log chains its entries with an HMAC key derived from it and the
log's tenant, so a database account alone cannot forge a correctly chained entry.
A process running one tenant's code gets only that tenant's derived key, in
``KLIKKFLOW_AUDIT_TENANT_WRITER_KEY`` as ``<tenant>:<hex>`` (never the base key, which
would chain any tenant's log); :func:`tenant_writer_key_from_env` reads it.

*Checkpoint signing key* (asymmetric, held only by the checkpointer, a
platform process). The private key comes from ``KLIKKFLOW_AUDIT_SIGNING_KEY_FILE``
(in production a Kubernetes Secret mounted only into the platform namespace's
checkpointer) or is created once in ``$KLIKKFLOW_HOME/platform/audit-signing.key``.
Verifiers need only the public key: ``KLIKKFLOW_AUDIT_PUBLIC_KEY`` (hex) or
``$KLIKKFLOW_HOME/platform/audit-signing.pub``, written by the checkpointer.
Writers never read either file.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from compliance.home import klikkflow_home, platform_home
from compliance.keyfiles import read_or_create_key_file

MIN_KEY_LENGTH = 32
WRITER_KEY_ENV = "KLIKKFLOW_AUDIT_KEY"
SIGNING_KEY_FILE_ENV = "KLIKKFLOW_AUDIT_SIGNING_KEY_FILE"
PUBLIC_KEY_ENV = "KLIKKFLOW_AUDIT_PUBLIC_KEY"
TENANT_WRITER_KEY_ENV = "KLIKKFLOW_AUDIT_TENANT_WRITER_KEY"
SIGNING_KEY_NAME = "audit-signing.key"
PUBLIC_KEY_NAME = "audit-signing.pub"


class AuditKeyError(ValueError):
    """The configured audit key is unusable."""


def audit_key() -> bytes:
    """The writers' base key (see the module docstring for where it comes from)."""
    configured = os.environ.get(WRITER_KEY_ENV)
    if configured is not None:
        if len(configured) < MIN_KEY_LENGTH:
            raise AuditKeyError(
                f"{WRITER_KEY_ENV} is {len(configured)} characters; use at least {MIN_KEY_LENGTH} "
                "(for example the output of `python -c 'import secrets; print(secrets.token_hex(32))'`)"
            )
        return configured.encode()
    return read_or_create_key_file(klikkflow_home() / "secrets" / "audit.key").encode()


def writer_key(base: bytes, tenant: str) -> bytes:
    """The HMAC key that chains the entries of ``tenant``'s log, derived from the base writer key."""
    return hmac.new(base, f"klikkflow-audit-writer|{tenant}".encode(), hashlib.sha256).digest()


def tenant_writer_key_value(base: bytes, tenant: str) -> str:
    """The value of :data:`TENANT_WRITER_KEY_ENV` that gives a process ``tenant``'s chain key only."""
    return f"{tenant}:{writer_key(base, tenant).hex()}"


def tenant_writer_key_from_env(tenant: str) -> bytes | None:
    """``tenant``'s chain key from :data:`TENANT_WRITER_KEY_ENV`, or ``None`` when it holds no key of it."""
    owner, _, key = os.environ.get(TENANT_WRITER_KEY_ENV, "").partition(":")
    return bytes.fromhex(key) if owner == tenant and key else None


def signing_key_path() -> Path:
    """Where the checkpointer's private key lives (only the checkpointer calls this)."""
    configured = os.environ.get(SIGNING_KEY_FILE_ENV)
    return Path(configured) if configured else platform_home() / SIGNING_KEY_NAME


def public_key_path(create: bool = True) -> Path:
    """Where the checkpointer publishes its public key on a local install (``create``: its folder too)."""
    return (platform_home() if create else klikkflow_home(create=False) / "platform") / PUBLIC_KEY_NAME


def _raw_public_hex(private: Ed25519PrivateKey) -> str:
    return private.public_key().public_bytes_raw().hex()


def load_signing_key() -> Ed25519PrivateKey:
    """The checkpointer's private key, created once (0600) on a local install; publishes the public key."""
    path = signing_key_path()
    if os.environ.get(SIGNING_KEY_FILE_ENV) and not path.exists():
        raise AuditKeyError(
            f"{SIGNING_KEY_FILE_ENV}={path}: no such file. Fix: mount the platform's audit signing "
            "Secret there, or unset the variable to use a local key."
        )
    seed_hex = read_or_create_key_file(
        path, create=lambda: Ed25519PrivateKey.generate().private_bytes_raw().hex(), min_length=64
    )
    try:
        private = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(seed_hex))
    except ValueError:
        raise AuditKeyError(
            f"{path}: not an Ed25519 private key (64 hex characters). Fix: restore the key from backup; "
            "a new key cannot verify the checkpoints signed so far."
        ) from None
    public_hex = _raw_public_hex(private)
    published = read_or_create_key_file(public_key_path(), create=lambda: public_hex, min_length=64)
    for where, value in (
        (str(public_key_path()), published),
        (PUBLIC_KEY_ENV, os.environ.get(PUBLIC_KEY_ENV)),
    ):
        if value is not None and value.strip() != public_hex:
            raise AuditKeyError(
                f"{where}: is not the public half of the signing key {path}, so nobody could verify "
                f"its checkpoints. Fix: set it to {public_hex} (or delete the .pub file)."
            )
    return private


def load_public_key() -> Ed25519PublicKey | None:
    """The key that verifies checkpoints; ``None`` when no checkpointer has run on this install yet."""
    configured = os.environ.get(PUBLIC_KEY_ENV)
    if configured:
        text, where = configured.strip(), PUBLIC_KEY_ENV
    else:
        path = public_key_path(create=False)  # a reader creates nothing
        if not path.exists():
            return None
        text, where = path.read_text(encoding="utf-8").strip(), str(path)
    try:
        return Ed25519PublicKey.from_public_bytes(bytes.fromhex(text))
    except ValueError:
        raise AuditKeyError(
            f"{where}: not an Ed25519 public key (64 hex characters). "
            "Fix: copy the checkpointer's audit-signing.pub value."
        ) from None
