"""SSO sign-in state in the platform database: pending OIDC transactions (state, nonce, PKCE
verifier, the address that started them) and the groups of each user's last SSO sign-in."""

from __future__ import annotations

import json
import time

from sqlalchemy import Column, Engine, Float, MetaData, String, Table, Text, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite

from klikkflow_pipelines.gateway.schema import add_missing_columns, create_tables

#: A sign-in's callback must come back within this; older transactions are void and purged.
OIDC_TRANSACTION_SECONDS = 600

metadata = MetaData()

oidc_transactions = Table(
    "gateway_oidc_transactions",
    metadata,
    Column("state", String(128), primary_key=True),
    Column("nonce", String(128), nullable=False),
    Column("code_verifier", String(128), nullable=False),
    Column("browser_binding", String(64), nullable=False),
    Column("next_url", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("source", String(64), nullable=False, server_default="", index=True),
)

sso_groups = Table(
    "gateway_sso_groups",
    metadata,
    Column("subject", String(255), primary_key=True),  # "oidc:<sub>", as in a session's identities
    Column("groups", Text, nullable=False),
    Column("refreshed_at", Float, nullable=False),
)


class SigninStore:
    """Typed access to the SSO sign-in tables (created on first use of a database)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        create_tables(metadata, engine)
        add_missing_columns(engine, [(oidc_transactions, "source")])

    # OIDC transactions -------------------------------------------------
    def insert_transaction(
        self, state: str, nonce: str, verifier: str, binding: str, next_url: str, source: str
    ) -> None:
        """Remember a sign-in attempt started from address ``source`` until its callback arrives."""
        with self.engine.begin() as conn:
            conn.execute(
                oidc_transactions.insert().values(
                    state=state,
                    nonce=nonce,
                    code_verifier=verifier,
                    browser_binding=binding,
                    next_url=next_url,
                    created_at=time.time(),
                    source=source[:64],
                )
            )

    def pending(self, source: str) -> tuple[int, float | None]:
        """How many sign-ins started from ``source`` still await their callback, and when the
        oldest of them started (None when there is none)."""
        since = time.time() - OIDC_TRANSACTION_SECONDS
        with self.engine.connect() as conn:
            count, oldest = conn.execute(
                select(func.count(), func.min(oidc_transactions.c.created_at)).where(
                    oidc_transactions.c.source == source[:64], oidc_transactions.c.created_at >= since
                )
            ).one()
        return int(count), oldest

    def take_transaction(self, state: str) -> dict | None:
        """Consume the transaction for ``state`` (single use: a replayed, purged or made-up state
        finds nothing; one older than :data:`OIDC_TRANSACTION_SECONDS` is void)."""
        with self.engine.begin() as conn:
            row = conn.execute(select(oidc_transactions).where(oidc_transactions.c.state == state)).first()
            if row is None:
                return None
            deleted = conn.execute(
                delete(oidc_transactions).where(oidc_transactions.c.state == state)
            ).rowcount
        if not deleted or row.created_at < time.time() - OIDC_TRANSACTION_SECONDS:
            return None
        return row._asdict()

    # groups of the last SSO sign-in ------------------------------------
    def record_groups(self, subject: str, groups: list[str], now: float | None = None) -> None:
        """Remember the groups the provider sent at a user's SSO sign-in, and when (one row per
        subject; concurrent sign-ins of one user leave the last writer's)."""
        values = {"subject": subject, "groups": json.dumps(sorted(set(groups)))}
        values["refreshed_at"] = time.time() if now is None else now
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(sso_groups).values(**values)
        statement = statement.on_conflict_do_update(
            index_elements=[sso_groups.c.subject],
            set_={"groups": statement.excluded.groups, "refreshed_at": statement.excluded.refreshed_at},
        )
        with self.engine.begin() as conn:
            conn.execute(statement)

    def groups_of(self, subject: str) -> tuple[list[str], float] | None:
        """(groups, refreshed_at) of the last SSO sign-in of ``subject``, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(select(sso_groups).where(sso_groups.c.subject == subject)).first()
        return None if row is None else (json.loads(row.groups), row.refreshed_at)

    # housekeeping --------------------------------------------------------
    def purge(self, group_max_age: float, now: float) -> dict[str, int]:
        """Delete void OIDC transactions and group records older than ``group_max_age`` (they
        grant nothing any more); return how many rows of each went."""
        with self.engine.begin() as conn:
            transactions = conn.execute(
                delete(oidc_transactions).where(
                    oidc_transactions.c.created_at < now - OIDC_TRANSACTION_SECONDS
                )
            ).rowcount
            groups = conn.execute(
                delete(sso_groups).where(sso_groups.c.refreshed_at < now - group_max_age)
            ).rowcount
        return {"oidc_transactions": transactions, "sso_groups": groups}
