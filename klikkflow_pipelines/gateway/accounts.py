"""Local accounts: argon2 passwords, sign-in throttling, TOTP MFA (secrets encrypted at rest) and
recovery codes."""

from __future__ import annotations

import contextlib
import logging
import secrets
import time
from dataclasses import dataclass

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from klikkflow_pipelines.gateway.secret_box import SecretBox
from klikkflow_pipelines.gateway.signin_throttle import SigninThrottle
from klikkflow_pipelines.gateway.store import GatewayStore, sha256_hex

log = logging.getLogger("klikkflow.gateway")
_hasher = PasswordHasher()
# Verifying against this keeps the time of "unknown user" equal to "wrong password".
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))
TOTP_WINDOW = 1  # accept the current 30 s step and one step either side
RECOVERY_CODE_COUNT = 10
MIN_PASSWORD_LENGTH = 12
SSO_PREFIX = "oidc:"  # identities of SSO users without a verified e-mail: oidc:<subject>
ENROLLMENT_SECONDS = 900  # a new secret offered on the enrolment page must be confirmed within this


@dataclass(frozen=True)
class PasswordResult:
    """Outcome of a password check: ``ok``, ``bad`` (unknown user or wrong password) or ``throttled``
    (too many failures for this account from this source, or from this source overall: not tried)."""

    status: str
    mfa_required: bool = False
    retry_after: float = 0.0


@dataclass(frozen=True)
class Enrollment:
    """A TOTP secret offered for enrolment: its otpauth:// URI, and the secret sealed (encrypted, bound to
    the user and the session) for the form to send back. Nothing is stored until it is confirmed."""

    uri: str
    sealed: str


class EnrollmentError(Exception):
    """A new TOTP secret was not activated; the message tells the user why."""


def check_account_name(username: str) -> None:
    """Raise ValueError (saying why and what to do) for a name a local account must not have: one of
    the ``oidc:<subject>`` names under which tenant files grant SSO users (member names match
    case-insensitively), an empty one, or one with surrounding spaces or control characters (the
    sign-in form strips spaces, so it could never sign in)."""
    if username.strip().lower().startswith(SSO_PREFIX):
        raise ValueError(
            f"account name {username!r}: names starting with {SSO_PREFIX!r} are reserved for single sign-on "
            f"users (tenant files grant them as {SSO_PREFIX}<subject>); a local account named so would get "
            "that user's roles. Fix: choose a name without that prefix."
        )
    if not username or username != username.strip() or not username.isprintable():
        raise ValueError(
            f"account name {username!r}: it is empty, has surrounding spaces or control characters. "
            "Fix: give the name exactly as the user will type it at sign-in."
        )


def _matching_step(totp: pyotp.TOTP, code: str, now: float, after: int) -> int | None:
    """The time step (within the window, later than ``after``) whose code is ``code``, or None."""
    code = (code or "").strip().replace(" ", "")
    for offset in range(-TOTP_WINDOW, TOTP_WINDOW + 1):
        at = now + offset * totp.interval
        step = int(at // totp.interval)
        if step > after and secrets.compare_digest(totp.at(at), code):
            return step
    return None


class Accounts:
    """Local account operations on the platform store.

    ``secret_key`` is the gateway's secret key; TOTP secrets are encrypted under
    sub-keys derived from it (after a key change enrolled authenticators no
    longer verify: those users sign in with a recovery code and enrol again).
    Without it only passwords can be managed (the CLI's ``add-user``).
    """

    def __init__(
        self,
        store: GatewayStore,
        max_failures: int = 5,
        lockout_seconds: int = 900,
        secret_key: str | None = None,
    ) -> None:
        self.store = store
        self.throttle = SigninThrottle(store, free_failures=max_failures, max_seconds=float(lockout_seconds))
        self._secrets = SecretBox(secret_key, "totp-secret") if secret_key else None
        self._offers = SecretBox(secret_key, "totp-enrolment") if secret_key else None

    def create_user(self, username: str, password: str, owner: bool = False) -> None:
        """Create or reset a local account (password of at least 12 characters; the name is checked by
        :func:`check_account_name`)."""
        check_account_name(username)
        if len(password) < MIN_PASSWORD_LENGTH:
            raise ValueError(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
        self.store.upsert_user(username, password_hash=_hasher.hash(password), is_owner=owner)

    # passwords and throttling ------------------------------------------------
    def check_password(self, username: str, password: str, source: str = "") -> PasswordResult:
        """Verify a password from ``source`` (the client address); unknown names are treated exactly
        like accounts with a wrong password, also by the throttle."""
        wait = self.throttle.attempt(username, source)  # counted as failed until it has passed
        if wait > 0:
            return PasswordResult("throttled", retry_after=wait)
        # a name no account can have (see check_account_name) is not looked up: PostgreSQL refuses NUL
        user = self.store.get_user(username) if username.isprintable() else None
        try:
            if user is None or not user["password_hash"]:
                with contextlib.suppress(VerificationError):
                    _hasher.verify(_DUMMY_HASH, password)
                raise VerificationError("unknown user")
            _hasher.verify(user["password_hash"], password)
        except (VerificationError, InvalidHashError):
            return PasswordResult("bad")
        if _hasher.check_needs_rehash(user["password_hash"]):
            self.store.upsert_user(username, password_hash=_hasher.hash(password))
        self.throttle.passed(username, source, complete=not user["totp_enabled"])
        return PasswordResult("ok", mfa_required=bool(user["totp_enabled"]))

    def begin_attempt(self, username: str, source: str) -> float:
        """Start a try of a second factor (or current code) from ``source``, throttled like a password:
        seconds to wait (0: go on; the try counts as failed until :meth:`record_success`)."""
        return self.throttle.attempt(username, source)

    def record_success(self, username: str, source: str) -> None:
        """End the back-off of ``username`` from ``source`` after a complete sign-in."""
        self.throttle.passed(username, source, complete=True)

    # TOTP ----------------------------------------------------------------------
    def totp_enabled(self, username: str) -> bool:
        """True when the account signs in with a TOTP code."""
        user = self.store.get_user(username)
        return bool(user and user["totp_enabled"])

    def offer_enrollment(self, username: str, binding: str, sealed: str | None = None) -> Enrollment:
        """The secret sealed in ``sealed`` again while it is valid for this user and ``binding`` (the
        session), else a new random one. Writes nothing."""
        secret = self._open_offer(username, binding, sealed) if sealed else None
        if secret is None:
            secret = pyotp.random_base32()
            sealed = self._box(self._offers).seal(f"{int(time.time())}:{secret}", f"{username}\0{binding}")
        uri = pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name="KlikkFlow")
        return Enrollment(uri, str(sealed))

    def complete_enrollment(
        self, username: str, binding: str, sealed: str, code: str, current_code: str, source: str
    ) -> list[str]:
        """Activate the offered secret when ``code`` is one of its codes; an account that has TOTP on
        must also give a current code (or a recovery code). Return fresh recovery codes (shown once);
        raise :class:`EnrollmentError` otherwise."""
        secret = self._open_offer(username, binding, sealed)
        if secret is None:
            raise EnrollmentError("This setup form has expired: open the page again to start over.")
        replaces = self.store.get_totp_ciphertext(username)  # activated only if still the same then
        now = time.time()
        step = _matching_step(pyotp.TOTP(secret), code, now, after=-1)
        if step is None:
            raise EnrollmentError("Wrong code from the authenticator app.")
        if self.totp_enabled(username):
            if self.begin_attempt(username, source) > 0:
                raise EnrollmentError("Too many wrong codes: try again in a few minutes.")
            current_ok = self.verify_totp(username, current_code, now) or (
                "-" in current_code and self.use_recovery_code(username, current_code)
            )
            if not current_ok:
                raise EnrollmentError(
                    "Two-factor sign-in is on: give a current code of your present authenticator "
                    "(or a recovery code) to replace it."
                )
            self.throttle.passed(username, source, complete=False)
            replaces = self.store.get_totp_ciphertext(username)  # the code may have encrypted a clear one
        codes = [f"{secrets.token_hex(4)}-{secrets.token_hex(4)}" for _ in range(RECOVERY_CODE_COUNT)]
        ciphertext = self._box(self._secrets).seal(secret, f"totp\0{username}")
        if not self.store.activate_totp(username, ciphertext, step, [sha256_hex(c) for c in codes], replaces):
            raise EnrollmentError(
                "Two-factor sign-in was set up meanwhile (in another window?): open the page again."
            )
        return codes

    def verify_totp(self, username: str, code: str, now: float | None = None) -> bool:
        """Check a TOTP code within ±1 step; a time step is accepted only once, also across gateway
        processes. A clear secret of an old row is encrypted on its first successful use."""
        user = self.store.get_user(username)
        if not user or not user["totp_enabled"]:
            return False
        clear = user["totp_secret"]
        secret = clear or self._active_secret(username)
        if not secret:
            return False
        step = _matching_step(
            pyotp.TOTP(secret), code, time.time() if now is None else now, user["totp_last_step"]
        )
        if step is None or not self.store.advance_totp_step(username, step):
            return False
        if clear and self._secrets is not None:
            self.store.encrypt_clear_totp_secret(
                username, clear, self._secrets.seal(clear, f"totp\0{username}")
            )
        return True

    def use_recovery_code(self, username: str, code: str) -> bool:
        """Consume a recovery code (each works once)."""
        return self.store.use_recovery_code(username, sha256_hex((code or "").strip().lower()))

    def _active_secret(self, username: str) -> str | None:
        ciphertext = self.store.get_totp_ciphertext(username)
        if ciphertext is None:
            return None
        secret = self._box(self._secrets).open(ciphertext, f"totp\0{username}")
        if secret is None:
            log.error("the TOTP secret of %s does not decrypt: was the gateway secret key changed?", username)
        return secret

    def _open_offer(self, username: str, binding: str, sealed: str) -> str | None:
        opened = self._box(self._offers).open(sealed, f"{username}\0{binding}")
        issued, _, secret = (opened or "").partition(":")
        if not secret or not issued.isdigit() or time.time() - int(issued) > ENROLLMENT_SECONDS:
            return None
        return secret

    @staticmethod
    def _box(box: SecretBox | None) -> SecretBox:
        if box is None:
            raise RuntimeError("TOTP needs the gateway secret key: build Accounts(..., secret_key=...)")
        return box
