"""API tokens in the platform database (``GatewayStore.tokens``): only a SHA-256 hash of each token
is stored, with its scope (tenant, role), its creator's identities and how they had signed in."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, Column, Engine, Float, Integer, MetaData, String, Table, Text, select, update

from klikkflow_pipelines.gateway.schema import add_missing_columns, create_tables

if TYPE_CHECKING:
    from klikkflow_pipelines.gateway.store import SessionRecord

metadata = MetaData()

api_tokens = Table(
    "gateway_api_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("name", String(128), nullable=False),
    Column("username", String(255), nullable=False, index=True),
    Column("tenant", String(64), nullable=False),
    Column("role", String(16), nullable=False),
    Column("identities", Text, nullable=False),
    Column("groups", Text, nullable=False),
    Column("is_owner", Boolean, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("revoked", Boolean, nullable=False, default=False),
    # how the creator had signed in ("local", "oidc"); "" for tokens made before the column existed
    Column("method", String(16), nullable=False, server_default=""),
)


@dataclass(frozen=True)
class TokenRecord:
    """An API token (the secret itself is never stored)."""

    id: int
    name: str
    username: str
    tenant: str
    role: str
    identities: list[str]
    groups: list[str]
    is_owner: bool
    created_at: float
    expires_at: float
    revoked: bool
    method: str = ""

    @property
    def via_sso(self) -> bool:
        """True when the creator had signed in through the OpenID provider (tokens older than the
        ``method`` column: when they carry an ``oidc:<sub>`` identity)."""
        if self.method:
            return self.method == "oidc"
        return any(i.startswith("oidc:") for i in self.identities)


def _token_record(row) -> TokenRecord:  # type: ignore[no-untyped-def]
    data = row._asdict()
    data.pop("token_hash")
    data["identities"], data["groups"] = json.loads(data["identities"]), json.loads(data["groups"])
    return TokenRecord(**data)


class TokenStore:
    """Typed access to the API token table (created on first use of a database)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        create_tables(metadata, engine)
        add_missing_columns(engine, [(api_tokens, "method")])

    def insert(
        self, token_hash: str, name: str, session: SessionRecord, tenant: str, role: str, ttl: float
    ) -> int:
        """Persist a token hash with the creator's identities and sign-in method.

        Its role is re-derived at every use (:func:`klikkflow_pipelines.gateway.principal.token_grants`);
        the groups stored here only record the creation."""
        now = time.time()
        with self.engine.begin() as conn:
            result = conn.execute(
                api_tokens.insert().values(
                    token_hash=token_hash,
                    name=name,
                    username=session.username,
                    tenant=tenant,
                    role=role,
                    identities=json.dumps(session.identities),
                    groups=json.dumps(session.groups),
                    is_owner=session.is_owner,
                    created_at=now,
                    expires_at=now + ttl,
                    revoked=False,
                    method=session.method,
                )
            )
        return int(result.inserted_primary_key[0])

    def find(self, token_hash: str) -> TokenRecord | None:
        """The token with this hash, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(select(api_tokens).where(api_tokens.c.token_hash == token_hash)).first()
        return None if row is None else _token_record(row)

    def of_user(self, username: str) -> list[TokenRecord]:
        """A user's tokens, newest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(api_tokens).where(api_tokens.c.username == username).order_by(api_tokens.c.id.desc())
            ).all()
        return [_token_record(row) for row in rows]

    def revoke(self, token_id: int, username: str) -> TokenRecord | None:
        """Revoke a token owned by ``username``; return it (None if not theirs)."""
        owned = (api_tokens.c.id == token_id, api_tokens.c.username == username)
        with self.engine.begin() as conn:
            if not conn.execute(update(api_tokens).where(*owned).values(revoked=True)).rowcount:
                return None
            row = conn.execute(select(api_tokens).where(*owned)).first()
        return None if row is None else _token_record(row)
