"""Secrets and encryption keys for a tenant, read from the environment (never from config files).

Construct with ``dg.EnvVar`` so the value is resolved at run time and never
stored in the run config::

    SecretsResource(tenant_key=dg.EnvVar("KLIKKFLOW_TENANT_KEY"))

The tenant key is 32+ random bytes, given as hex or base64, for example
``python -c "import secrets; print(secrets.token_hex(32))"``. The compliance
layer derives its hashing and tokenization keys from it.

Tokenization also needs the tenant's detokenize *public* key
(``dg.EnvVar("KLIKKFLOW_TOKEN_PUBLIC_KEY")``, or on a local install the file the
platform publishes in the tenant home). Nothing a run holds reverses a ``tok2_``
token: the private key is the gateway's (:mod:`compliance.token_keys`).
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path

import dagster as dg
from pydantic import Field

from compliance.crypto import KeyMaterialError, Keys, derive_keys
from compliance.keyfiles import read_or_create_key_file
from compliance.token_keys import TOKEN_PUBLIC_KEY_ENV, decode_public_key

TENANT_KEY_ENV = "KLIKKFLOW_TENANT_KEY"


def decode_key(text: str) -> bytes:
    """Decode a key given as hex or (URL-safe) base64; raise :class:`KeyMaterialError` otherwise."""
    text = text.strip()
    try:
        return bytes.fromhex(text)
    except ValueError:
        pass
    try:
        return base64.b64decode(
            text.replace("-", "+").replace("_", "/") + "=" * (-len(text) % 4), validate=True
        )
    except (binascii.Error, ValueError):
        raise KeyMaterialError(
            f"{TENANT_KEY_ENV} is neither hex nor base64; generate one with "
            '`python -c "import secrets; print(secrets.token_hex(32))"`'
        ) from None


def local_tenant_key_file(home: Path) -> Path:
    """Where the embedded default keeps the tenant key: a 0600 file in the tenant's home.

    Only the path: :class:`SecretsResource` creates the file at its first use in a run,
    so loading definitions writes nothing. Production sets ``KLIKKFLOW_TENANT_KEY``
    from its secret store instead.
    """
    return home / "secrets" / "tenant.key"


def local_token_public_key_file(home: Path) -> Path:
    """Where the platform publishes the tenant's detokenize public key on a local install."""
    return home / "secrets" / "detokenize.pub"


class SecretsResource(dg.ConfigurableResource):
    """The tenant's secrets: the master key for hashing and tokenization, and the token public key.

    From ``tenant_key`` (``dg.EnvVar("KLIKKFLOW_TENANT_KEY")`` in production) or,
    for the embedded default, ``tenant_key_file``; the key itself is never
    part of any config file or run config.
    """

    tenant_key: str | None = Field(
        default=None,
        description="Master key as hex or base64 (32+ bytes); pass dg.EnvVar('KLIKKFLOW_TENANT_KEY').",
    )
    tenant_key_file: str | None = Field(
        default=None,
        description="File holding the master key (embedded default), created on first use at run time.",
    )
    token_public_key: str | None = Field(
        default=None,
        description="Detokenize public key (64 hex); pass dg.EnvVar('KLIKKFLOW_TOKEN_PUBLIC_KEY').",
    )
    token_public_key_file: str | None = Field(
        default=None,
        description="File holding the detokenize public key (embedded default, written by the platform).",
    )

    def tenant_key_text(self) -> str | None:
        """The master key as configured: ``tenant_key``, or the key file (created on first use), or None."""
        if self.tenant_key:
            return self.tenant_key
        if self.tenant_key_file:
            return read_or_create_key_file(Path(self.tenant_key_file))
        return None

    def has_tenant_key(self) -> bool:
        """True when a tenant key is configured."""
        return self.tenant_key_text() is not None

    def _token_public_key(self) -> bytes | None:
        if self.token_public_key:
            return decode_public_key(self.token_public_key, TOKEN_PUBLIC_KEY_ENV)
        path = Path(self.token_public_key_file) if self.token_public_key_file else None
        if path is not None and path.exists():
            return decode_public_key(path.read_text(encoding="utf-8"), str(path))
        return None  # tokenize rules then fail with a clear error; hashing still works

    def compliance_keys(self) -> Keys:
        """The hash and token keys derived from the tenant key, with the token public key when configured.

        A clear error when the tenant key is missing or short.
        """
        key = self.tenant_key_text()
        if not key:
            raise KeyMaterialError(
                f"no tenant key: set {TENANT_KEY_ENV} (hex or base64, 32+ bytes) "
                "for policies that hash or tokenize"
            )
        return derive_keys(decode_key(key), self._token_public_key())
