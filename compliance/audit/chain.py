"""The keyed hash chain of entries and the signed checkpoints of its head.

An entry's ``hash`` is HMAC-SHA256 under the log's writer key over the
previous entry's hash and the entry's canonical JSON: without the key nobody
can append or re-chain an entry that verifies.

A checkpoint is a signed statement "the log of TENANT had entry SEQ with hash
HEAD_HASH at TIME"; checkpoints are numbered and each one names the SHA-256 of
the previous checkpoint (``prev``), so they form a chain of their own, like the
signed tree heads of a transparency log. They are signed with Ed25519.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import asdict, dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

GENESIS_HASH = "0" * 64
HASHED_FIELDS = ("time", "actor", "tenant", "action", "target", "outcome", "source", "details")
CHECKPOINT_VERSION = 1


def canonical_json(entry: dict[str, Any]) -> str:
    """Canonical JSON of the hashed fields: sorted keys, no whitespace, UTF-8 kept."""
    payload = {field: entry.get(field) for field in HASHED_FIELDS}
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def entry_hash(key: bytes, prev_hash: str, entry: dict[str, Any]) -> str:
    """HMAC-SHA256 (hex) under ``key`` over the previous entry's hash followed by the entry's JSON.

    The position number is deliberately not covered: order is bound by the
    chain itself, so a swapped pair shows up as a broken link (reordering)
    rather than as an edit.
    """
    mac = hmac.new(key, prev_hash.encode("ascii"), hashlib.sha256)
    mac.update(canonical_json(entry).encode("utf-8"))
    return mac.hexdigest()


@dataclass(frozen=True)
class Checkpoint:
    """One signed checkpoint; ``number`` counts from 1 per log, ``prev`` is the previous one's digest."""

    tenant: str
    number: int
    seq: int
    head_hash: str
    time: str
    prev: str
    signature: str = ""

    def payload(self) -> bytes:
        """The exact bytes that are signed."""
        fields = {k: v for k, v in asdict(self).items() if k != "signature"}
        fields["v"] = CHECKPOINT_VERSION
        return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()

    def digest(self) -> str:
        """SHA-256 over the signed payload and its signature: what the next checkpoint's ``prev`` names."""
        return hashlib.sha256(self.payload() + self.signature.encode("ascii")).hexdigest()

    def signed(self, key: Ed25519PrivateKey) -> Checkpoint:
        """This checkpoint with its Ed25519 signature."""
        return Checkpoint(**{**asdict(self), "signature": key.sign(self.payload()).hex()})

    def signature_valid(self, key: Ed25519PublicKey) -> bool:
        """True when ``signature`` is the public key's owner's signature of this payload."""
        try:
            key.verify(bytes.fromhex(self.signature), self.payload())
        except (InvalidSignature, ValueError):
            return False
        return True

    def as_record(self) -> dict[str, Any]:
        """A plain dict (the witness file's line, the database row)."""
        return asdict(self)
