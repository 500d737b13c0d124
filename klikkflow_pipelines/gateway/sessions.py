"""Sessions: signed HttpOnly cookies naming a server-side session, CSRF tokens, revocation.

The cookie holds a random session id signed with the gateway secret
(itsdangerous); the database holds only its SHA-256. A new id is issued at
every privilege change (password accepted, MFA passed), so an id planted
before sign-in is never valid after it (session fixation). Lookups are cached
in-process for ``cache_seconds``; revocation in this process clears the cache
at once (other gateway replicas notice within ``cache_seconds``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time

from itsdangerous import BadSignature, Signer

from klikkflow_pipelines.gateway.store import GatewayStore, SessionRecord, sha256_hex

SESSION_COOKIE = "kf_session"
PREAUTH_COOKIE = "kf_pre"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"


class SessionManager:
    """Creates, loads and revokes sessions and checks CSRF tokens."""

    def __init__(self, store: GatewayStore, secret_key: str, ttl_seconds: int, cache_seconds: float) -> None:
        self.store = store
        self.ttl_seconds = ttl_seconds
        self.cache_seconds = cache_seconds
        self._signer = Signer(secret_key, salt="klikkflow.session")
        self._csrf_key = hashlib.sha256(b"klikkflow.csrf|" + secret_key.encode()).digest()
        self._cache: dict[str, SessionRecord] = {}
        self._lock = threading.Lock()

    # cookies -------------------------------------------------------------
    def sign(self, raw: str) -> str:
        """Sign a random id for a cookie."""
        return self._signer.sign(raw).decode()

    def unsign(self, cookie: str | None) -> str | None:
        """The id inside a signed cookie, or None when absent or tampered with."""
        if not cookie:
            return None
        try:
            return self._signer.unsign(cookie).decode()
        except BadSignature:
            return None

    # sessions ------------------------------------------------------------
    def create(
        self,
        username: str,
        method: str,
        identities: list[str],
        groups: list[str],
        roles: dict[str, str],
        is_owner: bool,
        mfa_pending: bool = False,
    ) -> tuple[str, SessionRecord]:
        """Create a session with a brand-new id; return (signed cookie value, record)."""
        raw = secrets.token_urlsafe(32)
        now = time.time()
        ttl = 300 if mfa_pending else self.ttl_seconds
        record = SessionRecord(
            id_hash=sha256_hex(raw),
            username=username,
            method=method,
            identities=identities,
            groups=groups,
            roles=roles,
            is_owner=is_owner,
            mfa_pending=mfa_pending,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            expires_at=now + ttl,
        )
        self.store.insert_session(record)
        return self.sign(raw), record

    def load(self, cookie: str | None, allow_mfa_pending: bool = False) -> SessionRecord | None:
        """The live session a cookie names, or None (unknown, expired, revoked, MFA not done)."""
        if not cookie:
            return None
        now = time.time()
        record = self._cache.get(cookie)  # keyed by the signed value: a hit skips the signature check
        if record is None or now - record.fetched_at > self.cache_seconds:
            raw = self.unsign(cookie)
            if raw is None:
                return None
            record = self.store.get_session(sha256_hex(raw))
            if record is None:
                return None
            with self._lock:
                if len(self._cache) > 10_000:
                    self._cache.clear()
                self._cache[cookie] = record
        if record.revoked or record.expires_at <= now:
            return None
        if record.mfa_pending and not allow_mfa_pending:
            return None
        return record

    def revoke(self, id_hash: str) -> None:
        """Revoke one session (sign-out, role change, MFA upgrade)."""
        self.store.revoke_session(id_hash)
        self._forget(id_hash)

    def _forget(self, id_hash: str) -> None:
        with self._lock:
            for key in [k for k, record in self._cache.items() if record.id_hash == id_hash]:
                del self._cache[key]

    def revoke_user(self, username: str) -> None:
        """Revoke every session of a user."""
        for id_hash in self.store.revoke_user_sessions(username):
            self._forget(id_hash)

    # CSRF ----------------------------------------------------------------
    def preauth_csrf(self, preauth_raw: str) -> str:
        """The CSRF token of forms shown before sign-in, bound to the pre-auth cookie."""
        return hmac.new(self._csrf_key, preauth_raw.encode(), hashlib.sha256).hexdigest()

    @staticmethod
    def tokens_match(expected: str | None, given: str | None) -> bool:
        """Constant-time comparison of CSRF tokens."""
        return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))
