"""HMAC-SHA256 signatures over timestamp and body, and where per-workflow webhook secrets come from.

Signed string: ``f"{timestamp}."`` followed by the raw body bytes. Headers:
``X-KlikkFlow-Timestamp: <unix seconds>`` and
``X-KlikkFlow-Signature: v1=<hex digest>`` (exactly that: one entry, scheme
``v1``, 64 lower-case hex digits; anything else is malformed and refused, so a
seen request cannot be re-spelled into a "new" one). Secrets are never in code: they are
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
SIGNATURE_FORMAT = "v1=<64 lower-case hex digits>"
_SIGNATURE = re.compile(r"v1=[0-9a-f]{64}")


class MalformedSignature(ValueError):
    """The signature header is not exactly :data:`SIGNATURE_FORMAT`."""


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


def parse_signature_header(header_value: str) -> str:
    """The signature of a header that is exactly ``v1=<hex>``; raise :class:`MalformedSignature` otherwise.

    No lists, no other schemes, no whitespace, no upper-case hex: a header has
    one spelling, so it cannot be re-spelled to look like another delivery.
    """
    if not _SIGNATURE.fullmatch(header_value):
        raise MalformedSignature(f"{SIGNATURE_HEADER} must be exactly {SIGNATURE_FORMAT}")
    return header_value


def signature_matches(secret: bytes, timestamp: str, body: bytes, header_value: str) -> bool:
    """True when ``header_value`` is the ``v1=`` signature of ``timestamp`` and ``body`` (constant time).

    Raises :class:`MalformedSignature` when the header is not exactly :data:`SIGNATURE_FORMAT`.
    """
    signature = parse_signature_header(header_value)
    return hmac.compare_digest(compute_signature(secret, timestamp, body), signature)
