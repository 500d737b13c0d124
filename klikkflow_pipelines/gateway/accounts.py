"""Local accounts: argon2 passwords, lockout after repeated failures, TOTP MFA and recovery codes."""

from __future__ import annotations

import contextlib
import secrets
import time
from dataclasses import dataclass

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from klikkflow_pipelines.gateway.store import GatewayStore, sha256_hex

_hasher = PasswordHasher()
# Verifying against this keeps the time of "unknown user" equal to "wrong password".
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))
TOTP_WINDOW = 1  # accept the current 30 s step and one step either side
RECOVERY_CODE_COUNT = 10
MIN_PASSWORD_LENGTH = 12


@dataclass(frozen=True)
class PasswordResult:
    """Outcome of a password check: ``ok``, ``bad`` (unknown user or wrong password) or ``locked``."""

    status: str
    mfa_required: bool = False
    locked_until: float = 0.0


class Accounts:
    """Local account operations on the platform store."""

    def __init__(self, store: GatewayStore, max_failures: int = 5, lockout_seconds: int = 900) -> None:
        self.store = store
        self.max_failures = max_failures
        self.lockout_seconds = lockout_seconds

    def create_user(self, username: str, password: str, owner: bool = False) -> None:
        """Create or reset a local account (password of at least 12 characters)."""
        if len(password) < MIN_PASSWORD_LENGTH:
            raise ValueError(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
        self.store.upsert_user(
            username,
            password_hash=_hasher.hash(password),
            is_owner=owner,
            failed_attempts=0,
            locked_until=0.0,
        )

    def check_password(self, username: str, password: str) -> PasswordResult:
        """Verify a password, counting failures and locking the account after too many."""
        user = self.store.get_user(username)
        now = time.time()
        if user is None or not user["password_hash"]:
            with contextlib.suppress(VerificationError):
                _hasher.verify(_DUMMY_HASH, password)
            return PasswordResult("bad")
        if user["locked_until"] > now:
            return PasswordResult("locked", locked_until=user["locked_until"])
        try:
            _hasher.verify(user["password_hash"], password)
        except (VerificationError, InvalidHashError):
            return self.record_failure(username)
        if _hasher.check_needs_rehash(user["password_hash"]):
            self.store.upsert_user(username, password_hash=_hasher.hash(password))
        return PasswordResult("ok", mfa_required=bool(user["totp_enabled"]))

    def record_failure(self, username: str) -> PasswordResult:
        """Count a failed password or MFA attempt; lock the account at the limit."""
        user = self.store.get_user(username)
        if user is None:
            return PasswordResult("bad")
        failures = user["failed_attempts"] + 1
        if failures >= self.max_failures:
            until = time.time() + self.lockout_seconds
            self.store.upsert_user(username, failed_attempts=0, locked_until=until)
            return PasswordResult("locked", locked_until=until)
        self.store.upsert_user(username, failed_attempts=failures)
        return PasswordResult("bad")

    def record_success(self, username: str) -> None:
        """Reset the failure counter after a complete sign-in."""
        self.store.upsert_user(username, failed_attempts=0)

    def is_locked(self, username: str) -> bool:
        """True while the account is locked out."""
        user = self.store.get_user(username)
        return bool(user and user["locked_until"] > time.time())

    # TOTP ----------------------------------------------------------------
    def begin_totp_enrollment(self, username: str) -> str:
        """Generate a new (not yet enabled) TOTP secret; return its otpauth:// URI."""
        secret = pyotp.random_base32()
        self.store.upsert_user(username, totp_secret=secret, totp_enabled=False)
        return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name="KlikkFlow")

    def confirm_totp_enrollment(self, username: str, code: str) -> list[str] | None:
        """Enable TOTP when ``code`` matches the pending secret; return fresh recovery codes (shown once)."""
        user = self.store.get_user(username)
        if not user or not user["totp_secret"] or not self._totp_matches(user, code, now=time.time()):
            return None
        codes = [f"{secrets.token_hex(4)}-{secrets.token_hex(4)}" for _ in range(RECOVERY_CODE_COUNT)]
        self.store.replace_recovery_codes(username, [sha256_hex(c) for c in codes])
        self.store.upsert_user(username, totp_enabled=True)
        return codes

    def verify_totp(self, username: str, code: str, now: float | None = None) -> bool:
        """Check a TOTP code within ±1 step; a code (time step) is accepted only once."""
        user = self.store.get_user(username)
        if not user or not user["totp_enabled"]:
            return False
        return self._totp_matches(user, code, now=time.time() if now is None else now)

    def _totp_matches(self, user: dict, code: str, now: float) -> bool:
        totp = pyotp.TOTP(user["totp_secret"])
        code = (code or "").strip().replace(" ", "")
        for offset in range(-TOTP_WINDOW, TOTP_WINDOW + 1):
            at = now + offset * totp.interval
            step = int(at // totp.interval)
            if step <= user["totp_last_step"]:
                continue  # already used: no replay within the window
            if secrets.compare_digest(totp.at(at), code):
                self.store.upsert_user(user["username"], totp_last_step=step)
                return True
        return False

    def use_recovery_code(self, username: str, code: str) -> bool:
        """Consume a recovery code (each works once)."""
        return self.store.use_recovery_code(username, sha256_hex((code or "").strip().lower()))
