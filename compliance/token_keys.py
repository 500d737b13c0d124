"""The per-tenant detokenize key pair: the private half for the gateway only, the public half for runs.

*Private key* (X25519, reverses ``tok2_`` tokens): read from
``$KLIKKFLOW_DETOKENIZE_KEY_DIR/<tenant>.key`` (production: a Kubernetes Secret
mounted only into the gateway; never created there), else created once (0600,
atomically, :mod:`compliance.keyfiles`) in ``$KLIKKFLOW_HOME/platform/detokenize/``,
the platform directory no tenant process is given. Tenant processes are started
without the variable (``tenancy.supervisor``).

*Public key* (makes tokens): ``KLIKKFLOW_TOKEN_PUBLIC_KEY`` (64 hex characters) in
the tenant's run environment, or on a local install the file
``<tenant home>/secrets/detokenize.pub`` which the platform (supervisor,
gateway) writes with :func:`publish_public_key` before the tenant's processes start.

*Legacy*: ``tok1_`` tokens are reversible only with the tenant master key; the
gateway opens them when ``$KLIKKFLOW_LEGACY_TENANT_KEY_DIR/<tenant>.key`` holds it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from compliance.crypto import PUBLIC_KEY_BYTES, KeyMaterialError, legacy_token_key
from compliance.home import platform_home
from compliance.keyfiles import publish_file, read_or_create_key_file

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

DETOKENIZE_KEY_DIR_ENV = "KLIKKFLOW_DETOKENIZE_KEY_DIR"
LEGACY_KEY_DIR_ENV = "KLIKKFLOW_LEGACY_TENANT_KEY_DIR"
TOKEN_PUBLIC_KEY_ENV = "KLIKKFLOW_TOKEN_PUBLIC_KEY"
#: Variables naming private key material that no tenant process may inherit.
PRIVATE_KEY_ENVS = (DETOKENIZE_KEY_DIR_ENV, LEGACY_KEY_DIR_ENV)
_TENANT_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


def _checked(tenant: str) -> str:
    if not _TENANT_ID.match(tenant):
        raise KeyMaterialError(f"{tenant!r} is not a tenant id (lower-case letters, digits, '-', '_')")
    return tenant


def detokenize_key_path(tenant: str) -> Path:
    """Where the gateway finds ``tenant``'s private detokenize key."""
    configured = os.environ.get(DETOKENIZE_KEY_DIR_ENV)
    directory = Path(configured) if configured else platform_home() / "detokenize"
    return directory / f"{_checked(tenant)}.key"


def load_detokenize_key(tenant: str, path: Path | None = None) -> X25519PrivateKey:
    """``tenant``'s private detokenize key (from ``path``, default :func:`detokenize_key_path`).

    Created once on a local install; with ``KLIKKFLOW_DETOKENIZE_KEY_DIR`` set it must exist.
    Only platform processes (the gateway, the supervisor publishing the public key) call this.
    """
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    path = path or detokenize_key_path(tenant)
    if os.environ.get(DETOKENIZE_KEY_DIR_ENV) and not path.exists():
        raise KeyMaterialError(
            f"{DETOKENIZE_KEY_DIR_ENV}: {path}: no such file. Fix: add the tenant's detokenize key "
            "(64 hex characters) to the gateway's Secret, or unset the variable to use a local key."
        )
    text = read_or_create_key_file(
        path, create=lambda: X25519PrivateKey.generate().private_bytes_raw().hex(), min_length=64
    )
    try:
        return X25519PrivateKey.from_private_bytes(bytes.fromhex(text))
    except ValueError:
        raise KeyMaterialError(
            f"{path}: not an X25519 private key (64 hex characters). Fix: restore it from backup; "
            "tokens made for the lost key cannot be reversed with a new one."
        ) from None


def public_key_hex(private_key: X25519PrivateKey) -> str:
    """The public half of a detokenize key, as 64 hex characters (what runs are given)."""
    return private_key.public_key().public_bytes_raw().hex()


def decode_public_key(text: str, where: str) -> bytes:
    """Raw public key bytes from 64 hex characters; a clear error naming ``where`` otherwise."""
    try:
        raw = bytes.fromhex(text.strip())
    except ValueError:
        raw = b""
    if len(raw) != PUBLIC_KEY_BYTES:
        raise KeyMaterialError(
            f"{where}: not a detokenize public key (64 hex characters). "
            "Fix: `klikkflow token-public-key TENANT` prints the right value."
        )
    return raw


def publish_public_key(tenant: str, path: Path) -> str:
    """Write ``tenant``'s public detokenize key to ``path`` (a tenant-readable file); return it (hex).

    Called by platform processes only; creates the private key on first use.
    """
    public = public_key_hex(load_detokenize_key(tenant))
    if not path.exists() or path.read_text(encoding="utf-8").strip() != public:
        publish_file(path, public, replace=True)
    return public


def legacy_key(tenant: str, directory: str | None) -> bytes | None:
    """The ``tok1_`` key of ``tenant`` when ``directory`` (``KLIKKFLOW_LEGACY_TENANT_KEY_DIR``) holds
    its master key as ``<tenant>.key``, else None."""
    from resources.secrets import decode_key

    path = Path(directory) / f"{_checked(tenant)}.key" if directory else None
    if path is None or not path.exists():
        return None
    return legacy_token_key(decode_key(path.read_text(encoding="utf-8")))
