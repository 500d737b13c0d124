"""The HMAC key that signs audit checkpoints.

``KLIKKFLOW_AUDIT_KEY`` (at least 32 characters) wins; otherwise a random key is
created once in ``$KLIKKFLOW_HOME/secrets/audit.key`` (mode 0600) for the
embedded default. Production deployments set the variable from a secret.
"""

from __future__ import annotations

import os
import secrets

from klikkflow_pipelines.paths import klikkflow_home

MIN_KEY_LENGTH = 32


class AuditKeyError(ValueError):
    """The configured audit key is unusable."""


def audit_key() -> bytes:
    """Return the checkpoint signing key (see module docstring for where it comes from)."""
    configured = os.environ.get("KLIKKFLOW_AUDIT_KEY")
    if configured is not None:
        if len(configured) < MIN_KEY_LENGTH:
            raise AuditKeyError(
                f"KLIKKFLOW_AUDIT_KEY is {len(configured)} characters; use at least {MIN_KEY_LENGTH} "
                "(for example the output of `python -c 'import secrets; print(secrets.token_hex(32))'`)"
            )
        return configured.encode()
    path = klikkflow_home() / "secrets" / "audit.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process created it first
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
    return path.read_text().strip().encode()
