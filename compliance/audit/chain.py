"""The hash chain: canonical JSON of an entry and SHA-256 over previous hash + that JSON."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

GENESIS_HASH = "0" * 64
HASHED_FIELDS = ("time", "actor", "tenant", "action", "target", "outcome", "source", "details")


def canonical_json(entry: dict[str, Any]) -> str:
    """Canonical JSON of the hashed fields: sorted keys, no whitespace, UTF-8 kept."""
    payload = {field: entry.get(field) for field in HASHED_FIELDS}
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def entry_hash(prev_hash: str, entry: dict[str, Any]) -> str:
    """SHA-256 hex digest over the previous entry's hash followed by the entry's canonical JSON.

    The position number is deliberately not hashed: order is bound by the
    chain itself, so a swapped pair shows up as a broken link (reordering)
    rather than as an edit.
    """
    digest = hashlib.sha256()
    digest.update(prev_hash.encode("ascii"))
    digest.update(canonical_json(entry).encode("utf-8"))
    return digest.hexdigest()


def sign_checkpoint(key: bytes, tenant: str, seq: int, head_hash: str, time: str) -> str:
    """HMAC-SHA256 signature of a checkpoint (tenant, position, head hash, time)."""
    message = f"{tenant}|{seq}|{head_hash}|{time}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def checkpoint_signature_valid(
    key: bytes, tenant: str, seq: int, head_hash: str, time: str, sig: str
) -> bool:
    """Constant-time check of a checkpoint signature."""
    return hmac.compare_digest(sign_checkpoint(key, tenant, seq, head_hash, time), sig)
