"""The platform database: users, TOTP secrets, sign-in throttles, sessions and recovery codes;
API tokens (:mod:`klikkflow_pipelines.gateway.token_store`, ``store.tokens``) and SSO sign-in
state (:mod:`klikkflow_pipelines.gateway.signin_store`, ``store.signin``) have their own modules.

SQLite under ``$KLIKKFLOW_HOME`` locally, a Postgres URL
(``KLIKKFLOW_GATEWAY_DB_URL``) in production. Secrets are never stored in
the clear: passwords are argon2 hashes, session ids, API tokens and recovery
codes are SHA-256 hashes of high-entropy random values, TOTP secrets are
AES-GCM encrypted (:mod:`klikkflow_pipelines.gateway.secret_box`). Expired and revoked
sessions are deleted by :func:`klikkflow_pipelines.gateway.housekeeping.purge_expired`.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field

from sqlalchemy import (
    Boolean,
    Column,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    case,
    delete,
    select,
    update,
)

from compliance.audit.log import AuditLog
from klikkflow_pipelines.gateway.schema import create_tables
from klikkflow_pipelines.gateway.signin_store import SigninStore
from klikkflow_pipelines.gateway.token_store import TokenStore
from klikkflow_pipelines.tenancy.storage import create_storage_engine
from resources.sql_upsert import conflict_insert

metadata = MetaData()

# ``totp_secret`` holds only a clear secret written before encryption, until that user's next sign-in
# moves it into ``gateway_totp_secrets``. ``failed_attempts``/``locked_until`` are no longer read
# (throttling is per account and source in ``gateway_signin_throttle``); they stay so that databases
# created before keep accepting new rows.
users = Table(
    "gateway_users",
    metadata,
    Column("username", String(255), primary_key=True),
    Column("password_hash", Text, nullable=True),
    Column("totp_secret", String(64), nullable=True),
    Column("totp_enabled", Boolean, nullable=False, default=False),
    Column("totp_last_step", Integer, nullable=False, default=0),
    Column("is_owner", Boolean, nullable=False, default=False),
    Column("failed_attempts", Integer, nullable=False, default=0),
    Column("locked_until", Float, nullable=False, default=0.0),
    Column("created_at", Float, nullable=False),
)

totp_secrets = Table(
    "gateway_totp_secrets",
    metadata,
    Column("username", String(255), primary_key=True),
    Column("ciphertext", Text, nullable=False),
    Column("created_at", Float, nullable=False),
)

signin_throttle = Table(
    "gateway_signin_throttle",
    metadata,
    Column("key", String(64), primary_key=True),  # SHA-256 of "account|source" or "source" (no names)
    Column("failures", Float, nullable=False),
    Column("blocked_until", Float, nullable=False),
    Column("updated_at", Float, nullable=False, index=True),
)

sessions = Table(
    "gateway_sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("username", String(255), nullable=False, index=True),
    Column("method", String(16), nullable=False),
    Column("identities", Text, nullable=False),
    Column("groups", Text, nullable=False),
    Column("roles", Text, nullable=False),
    Column("is_owner", Boolean, nullable=False),
    Column("mfa_pending", Boolean, nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("revoked", Boolean, nullable=False, default=False),
)

recovery_codes = Table(
    "gateway_recovery_codes",
    metadata,
    Column("code_hash", String(64), primary_key=True),
    Column("username", String(255), nullable=False, index=True),
    Column("used", Boolean, nullable=False, default=False),
)


def sha256_hex(value: str) -> str:
    """SHA-256 hex digest of a secret (ids, tokens, codes are high-entropy, so no salt is needed)."""
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass
class SessionRecord:
    """A server-side session."""

    id_hash: str
    username: str
    method: str
    identities: list[str]
    groups: list[str]
    roles: dict[str, str]
    is_owner: bool
    mfa_pending: bool
    csrf_token: str
    created_at: float
    expires_at: float
    revoked: bool = False
    fetched_at: float = field(default=0.0, compare=False)

    @property
    def active(self) -> bool:
        """Not revoked, not expired, MFA complete."""
        return not self.revoked and not self.mfa_pending and self.expires_at > time.time()


class GatewayStore:
    """Typed access to the platform database tables."""

    def __init__(self, database_url: str) -> None:
        self.engine: Engine = create_storage_engine(database_url)
        create_tables(metadata, self.engine)
        self.signin = SigninStore(self.engine)
        self.tokens = TokenStore(self.engine)

    # users -------------------------------------------------------------
    def get_user(self, username: str) -> dict | None:
        """The user row as a dict, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(select(users).where(users.c.username == username)).first()
        return row._asdict() if row else None

    def has_users(self) -> bool:
        """True when at least one local account exists."""
        with self.engine.connect() as conn:
            return conn.execute(select(users.c.username).limit(1)).first() is not None

    def upsert_user(self, username: str, **values: object) -> None:
        """Create the user or update the given columns."""
        with self.engine.begin() as conn:
            done = conn.execute(update(users).where(users.c.username == username).values(**values)).rowcount
            if not done:
                defaults = {"totp_enabled": False, "totp_last_step": 0, "is_owner": False}
                defaults |= {"failed_attempts": 0, "locked_until": 0.0, "created_at": time.time()}
                conn.execute(users.insert().values(username=username, **(defaults | values)))

    # TOTP --------------------------------------------------------------
    def get_totp_ciphertext(self, username: str) -> str | None:
        """The encrypted TOTP secret of a user, or None."""
        with self.engine.connect() as conn:
            return conn.execute(
                select(totp_secrets.c.ciphertext).where(totp_secrets.c.username == username)
            ).scalar()

    def activate_totp(
        self, username: str, ciphertext: str, last_step: int, code_hashes: list[str], replaces: str | None
    ) -> bool:
        """In one transaction: make ``ciphertext`` the user's TOTP secret, enable TOTP, replace the
        recovery codes; only while the stored secret is still ``replaces`` (None: none yet), so of two
        enrolments racing, also on two gateway processes, one wins and the other changes nothing
        (False). The last used step never goes back (no code of the window is usable twice)."""
        with self.engine.begin() as conn:
            if replaces is None:
                insert = conflict_insert(self.engine, totp_secrets).values(
                    username=username, ciphertext=ciphertext, created_at=time.time()
                )
                swapped = conn.execute(insert.on_conflict_do_nothing()).rowcount
            else:
                swapped = conn.execute(
                    update(totp_secrets)
                    .where(totp_secrets.c.username == username, totp_secrets.c.ciphertext == replaces)
                    .values(ciphertext=ciphertext, created_at=time.time())
                ).rowcount
            if swapped != 1:
                return False
            conn.execute(
                update(users)
                .where(users.c.username == username)
                .values(
                    totp_enabled=True,
                    totp_secret=None,
                    totp_last_step=case(
                        (users.c.totp_last_step > last_step, users.c.totp_last_step), else_=last_step
                    ),
                )
            )
            self._replace_recovery_codes(conn, username, code_hashes)
        return True

    def encrypt_clear_totp_secret(self, username: str, clear: str, ciphertext: str) -> None:
        """Replace a clear TOTP secret of an old row by its encrypted form (no-op if it changed meanwhile)."""
        with self.engine.begin() as conn:
            moved = conn.execute(
                update(users)
                .where(users.c.username == username, users.c.totp_secret == clear)
                .values(totp_secret=None)
            ).rowcount
            if moved:
                self._put_totp_secret(conn, username, ciphertext)

    def advance_totp_step(self, username: str, step: int) -> bool:
        """Record ``step`` as the last TOTP step used; False when it (or a later one) was used already,
        also by another gateway process."""
        with self.engine.begin() as conn:
            return bool(
                conn.execute(
                    update(users)
                    .where(users.c.username == username, users.c.totp_last_step < step)
                    .values(totp_last_step=step)
                ).rowcount
            )

    def _put_totp_secret(self, conn, username: str, ciphertext: str) -> None:  # type: ignore[no-untyped-def]
        insert = conflict_insert(self.engine, totp_secrets).values(
            username=username, ciphertext=ciphertext, created_at=time.time()
        )
        conn.execute(
            insert.on_conflict_do_update(
                index_elements=[totp_secrets.c.username],
                set_={"ciphertext": insert.excluded.ciphertext, "created_at": insert.excluded.created_at},
            )
        )

    # sessions ----------------------------------------------------------
    def insert_session(self, record: SessionRecord) -> None:
        """Persist a new session."""
        with self.engine.begin() as conn:
            conn.execute(
                sessions.insert().values(
                    id_hash=record.id_hash,
                    username=record.username,
                    method=record.method,
                    identities=json.dumps(record.identities),
                    groups=json.dumps(record.groups),
                    roles=json.dumps(record.roles),
                    is_owner=record.is_owner,
                    mfa_pending=record.mfa_pending,
                    csrf_token=record.csrf_token,
                    created_at=record.created_at,
                    expires_at=record.expires_at,
                    revoked=False,
                )
            )

    def get_session(self, id_hash: str) -> SessionRecord | None:
        """Load a session by the hash of its id."""
        with self.engine.connect() as conn:
            row = conn.execute(select(sessions).where(sessions.c.id_hash == id_hash)).first()
        if row is None:
            return None
        data = row._asdict()
        for key in ("identities", "groups", "roles"):
            data[key] = json.loads(data[key])
        return SessionRecord(**data, fetched_at=time.time())

    def revoke_session(self, id_hash: str) -> None:
        """Revoke one session."""
        with self.engine.begin() as conn:
            conn.execute(update(sessions).where(sessions.c.id_hash == id_hash).values(revoked=True))

    def revoke_user_sessions(self, username: str) -> list[str]:
        """Revoke every session of a user; return the revoked id hashes."""
        with self.engine.begin() as conn:
            hashes = list(
                conn.execute(
                    select(sessions.c.id_hash).where(
                        sessions.c.username == username, sessions.c.revoked.is_(False)
                    )
                ).scalars()
            )
            conn.execute(update(sessions).where(sessions.c.username == username).values(revoked=True))
        return hashes

    def purge_sessions(self, now: float) -> int:
        """Delete expired and revoked sessions (a deleted session is as dead as a revoked one);
        return how many went."""
        with self.engine.begin() as conn:
            return conn.execute(
                delete(sessions).where((sessions.c.expires_at <= now) | sessions.c.revoked.is_(True))
            ).rowcount

    # recovery codes ----------------------------------------------------
    @staticmethod
    def _replace_recovery_codes(conn, username: str, code_hashes: list[str]) -> None:  # type: ignore[no-untyped-def]
        conn.execute(delete(recovery_codes).where(recovery_codes.c.username == username))
        for code_hash in code_hashes:
            conn.execute(recovery_codes.insert().values(code_hash=code_hash, username=username, used=False))

    def use_recovery_code(self, username: str, code_hash: str) -> bool:
        """Consume an unused recovery code; True when it was valid."""
        with self.engine.begin() as conn:
            return bool(
                conn.execute(
                    update(recovery_codes)
                    .where(
                        recovery_codes.c.username == username,
                        recovery_codes.c.code_hash == code_hash,
                        recovery_codes.c.used.is_(False),
                    )
                    .values(used=True)
                ).rowcount
            )


def platform_audit_log(store: GatewayStore | None = None) -> AuditLog:
    """The audit log of platform events (sign-ins, MFA, tokens) in the platform database.

    Only the database is needed: the checkpointer and ``audit verify`` open this log without the
    gateway's cookie secret (which ``settings_from_env`` would otherwise create in their home).
    """
    if store is None:
        from klikkflow_pipelines.gateway.settings import gateway_database_url

        store = GatewayStore(gateway_database_url())
    return AuditLog(store.engine, "platform")
