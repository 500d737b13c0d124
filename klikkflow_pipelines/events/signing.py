"""HMAC-SHA256 signatures over timestamp and body, and where per-workflow webhook secrets come from.

Signed string: ``f"{timestamp}."`` followed by the raw body bytes. Headers:
``X-KlikkFlow-Timestamp: <unix seconds>`` and
``X-KlikkFlow-Signature: v1=<hex digest>``. Secrets are never in code: they are
read from ``KLIKKFLOW_WEBHOOK_SECRET__<TENANT>__<WORKFLOW>`` or from the file
``$KLIKKFLOW_SECRETS_DIR/webhooks/<tenant>/<workflow>`` (a mounted Kubernetes secret).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import time
from pathlib import Path

TIMESTAMP_HEADER = "X-KlikkFlow-Timestamp"
SIGNATURE_HEADER = "X-KlikkFlow-Signature"
SIGNATURE_VERSION = "v1"


def secret_env_name(tenant: str, workflow: str) -> str:
    """The environment variable holding the webhook secret of ``tenant``/``workflow``."""

    def norm(part: str) -> str:
        return re.sub(r"[^A-Z0-9]", "_", part.upper())

    return f"KLIKKFLOW_WEBHOOK_SECRET__{norm(tenant)}__{norm(workflow)}"


def webhook_secret(tenant: str, workflow: str) -> bytes | None:
    """The webhook secret of ``tenant``/``workflow`` from the environment or the secrets dir, or None."""
    value = os.environ.get(secret_env_name(tenant, workflow))
    if value:
        return value.encode()
    secrets_dir = os.environ.get("KLIKKFLOW_SECRETS_DIR")
    if secrets_dir:
        path = Path(secrets_dir) / "webhooks" / tenant / workflow
        if path.is_file():
            secret = path.read_text(encoding="utf-8").strip()
            return secret.encode() if secret else None
    return None


def compute_signature(secret: bytes, timestamp: str, body: bytes) -> str:
    """The ``v1=<hex>`` signature of ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_VERSION}={digest}"


def signed_headers(secret: bytes, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """Headers a sender attaches to ``body`` (used by senders, tests and the webhook notifier)."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {
        TIMESTAMP_HEADER: ts,
        SIGNATURE_HEADER: compute_signature(secret, ts, body),
        "Content-Type": "application/json",
    }


def signature_matches(secret: bytes, timestamp: str, body: bytes, header_value: str) -> bool:
    """True when any ``v1=`` signature in ``header_value`` matches (constant-time comparison)."""
    expected = compute_signature(secret, timestamp, body)
    candidates = [part.strip() for part in header_value.split(",") if part.strip()]
    return any(hmac.compare_digest(expected, candidate) for candidate in candidates)
