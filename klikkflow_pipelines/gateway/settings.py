"""Gateway settings, read from environment variables (``KLIKKFLOW_GATEWAY_*``, ``KLIKKFLOW_OIDC_*``)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from compliance.keyfiles import read_or_create_key_file
from klikkflow_pipelines.gateway.forwarded import parse_trusted_proxies
from klikkflow_pipelines.gateway.graphql_limits import GraphQLLimits
from klikkflow_pipelines.paths import klikkflow_home

GATEWAY_DB_URL_ENV = "KLIKKFLOW_GATEWAY_DB_URL"


class OidcSettings(BaseModel):
    """An OpenID provider: issuer URL, client credentials and which claim carries groups."""

    model_config = ConfigDict(frozen=True)

    issuer: str
    client_id: str
    client_secret: str
    groups_claim: str = "groups"
    scopes: str = "openid email groups"
    owner_groups: tuple[str, ...] = ()
    display_name: str = ""  # the sign-in button's label: "Sign in with <display_name>"


class GatewaySettings(BaseModel):
    """Everything the gateway needs to run; :func:`settings_from_env` builds it."""

    model_config = ConfigDict(frozen=True)

    secret_key: str = Field(min_length=32)
    database_url: str
    public_url: str = "http://127.0.0.1:3000"
    session_ttl_seconds: int = 8 * 3600
    session_cache_seconds: float = 2.0
    max_failed_logins: int = 5  # free failures per (account, client address) before back-off starts
    lockout_seconds: int = 15 * 60  # longest back-off; no account is ever locked for every address
    rate_per_user: float = 50.0
    burst_per_user: float = 200.0
    rate_per_tenant: float = 200.0
    burst_per_tenant: float = 800.0
    signin_rate_per_address: float = 0.5
    signin_burst_per_address: float = 20.0
    metrics_token: str | None = None
    require_mfa: bool = False
    tenant_reload_seconds: float = 5.0
    group_role_max_age_seconds: float = 24 * 3600.0
    oidc_pending_per_address: int = 30
    purge_interval_seconds: float = 300.0
    #: Worker threads for blocking work of requests (database, GraphQL parsing), so the event loop
    #: keeps answering while the database is slow or a document is large.
    worker_threads: int = Field(default=16, ge=1)
    #: Bounds every GraphQL document before it is expanded or reaches Dagster (400 when exceeded):
    #: 100,000 bytes, 10,000 tokens, depth 30, 100 aliases, 10,000 fields with fragments expanded,
    #: 50 repeats of one field in a selection. The Dagster 1.13 UI's largest queries stay at about
    #: a tenth of each (see graphql_limits.GraphQLLimits). ``KLIKKFLOW_GATEWAY_GRAPHQL_MAX_<NAME>``
    #: (BYTES, TOKENS, DEPTH, ALIASES, FIELDS, REPEATS) overrides one.
    graphql_limits: GraphQLLimits = GraphQLLimits()
    trusted_proxies: tuple[str, ...] = ()  # reverse proxies whose X-Forwarded-For is believed (CIDRs)
    oidc: OidcSettings | None = None

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _networks(cls, value: object) -> tuple[str, ...]:
        entries = value.split(",") if isinstance(value, str) else value
        return parse_trusted_proxies(entries, "trusted_proxies")  # type: ignore[arg-type]

    @property
    def secure_cookies(self) -> bool:
        """Cookies get the Secure flag when the gateway is served over TLS."""
        return self.public_url.startswith("https://")


def local_gateway_database(create: bool = True) -> Path:
    """The platform database's SQLite file when no ``KLIKKFLOW_GATEWAY_DB_URL`` is set (``create``:
    make ``$KLIKKFLOW_HOME``)."""
    return klikkflow_home(create) / "gateway.db"


def gateway_database_url(env: Mapping[str, str] | None = None) -> str:
    """The platform database: ``KLIKKFLOW_GATEWAY_DB_URL``, else SQLite under ``$KLIKKFLOW_HOME``."""
    env = os.environ if env is None else env
    return env.get(GATEWAY_DB_URL_ENV) or f"sqlite:///{local_gateway_database()}"


def _secret_from_file(name: str) -> str:
    return read_or_create_key_file(klikkflow_home() / "secrets" / name)


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    value = env.get(name, "").strip()
    if not value:
        return default
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds (e.g. 5), not {value!r}") from None


def _graphql_limits(env: Mapping[str, str]) -> GraphQLLimits:
    values: dict[str, int] = {}
    for name in ("bytes", "tokens", "depth", "aliases", "fields", "repeats"):
        variable = f"KLIKKFLOW_GATEWAY_GRAPHQL_MAX_{name.upper()}"
        value = env.get(variable, "").strip()
        if not value:
            continue
        if not value.isdigit() or int(value) < 1:
            raise ValueError(f"{variable} must be a positive whole number (e.g. 100000), not {value!r}")
        values[f"max_{name}"] = int(value)
    return GraphQLLimits(**values)


def settings_from_env() -> GatewaySettings:
    """Settings from the environment; local defaults keep state under ``$KLIKKFLOW_HOME``.

    ``KLIKKFLOW_GATEWAY_SECRET`` signs cookies (generated into the secrets
    directory when unset), ``KLIKKFLOW_GATEWAY_DB_URL`` is the platform database
    (sqlite under ``$KLIKKFLOW_HOME`` by default, a Postgres URL in production),
    ``KLIKKFLOW_PUBLIC_URL`` is the external URL. OIDC is enabled when
    ``KLIKKFLOW_OIDC_ISSUER``, ``KLIKKFLOW_OIDC_CLIENT_ID`` and
    ``KLIKKFLOW_OIDC_CLIENT_SECRET`` are all set; ``KLIKKFLOW_OIDC_DISPLAY_NAME`` (e.g. Okta) labels
    its sign-in button. ``KLIKKFLOW_GATEWAY_REQUIRE_MFA=true``
    makes TOTP mandatory for local accounts: until one is enrolled, its session
    opens only the enrollment page.

    ``KLIKKFLOW_GATEWAY_GROUP_ROLE_MAX_AGE`` (seconds, default 86400 = 24 h): an API
    token's roles from OIDC groups (``oidc_groups``, owner groups) hold only while its
    creator's last SSO sign-in, which records their groups, is at most this old; roles
    from ``members`` do not expire so. Someone removed from a group at the provider
    thus loses it through their tokens at their next sign-in, or within this time at
    the latest. ``KLIKKFLOW_GATEWAY_PURGE_SECONDS`` (default 300): how often expired
    OIDC sign-in transactions, expired or revoked sessions and outdated group records
    are deleted. At most ``oidc_pending_per_address`` (30) SSO sign-ins per source
    address may await their callback at once.

    ``KLIKKFLOW_GATEWAY_TRUSTED_PROXIES`` (comma-separated addresses or CIDR networks,
    default none): the reverse proxies in front of the gateway. Only for a connection
    from one of them is ``X-Forwarded-For`` read, its right-most address that is not a
    trusted proxy being the client's, for the sign-in throttle, rate limits and audit
    (:mod:`klikkflow_pipelines.gateway.forwarded`).
    """
    env = os.environ
    oidc = None
    if env.get("KLIKKFLOW_OIDC_ISSUER"):
        oidc = OidcSettings(
            issuer=env["KLIKKFLOW_OIDC_ISSUER"],
            client_id=env.get("KLIKKFLOW_OIDC_CLIENT_ID", ""),
            client_secret=env.get("KLIKKFLOW_OIDC_CLIENT_SECRET", ""),
            groups_claim=env.get("KLIKKFLOW_OIDC_GROUPS_CLAIM", "groups"),
            owner_groups=tuple(g for g in env.get("KLIKKFLOW_OWNER_GROUPS", "").split(",") if g),
            display_name=env.get("KLIKKFLOW_OIDC_DISPLAY_NAME", "").strip(),
        )
    return GatewaySettings(
        secret_key=env.get("KLIKKFLOW_GATEWAY_SECRET") or _secret_from_file("gateway.key"),
        database_url=gateway_database_url(env),
        public_url=env.get("KLIKKFLOW_PUBLIC_URL", "http://127.0.0.1:3000").rstrip("/"),
        metrics_token=env.get("KLIKKFLOW_METRICS_TOKEN") or None,
        require_mfa=env.get("KLIKKFLOW_GATEWAY_REQUIRE_MFA", "").lower() in ("1", "true", "yes"),
        tenant_reload_seconds=_seconds(env, "KLIKKFLOW_GATEWAY_TENANT_RELOAD_SECONDS", 5.0),
        group_role_max_age_seconds=_seconds(env, "KLIKKFLOW_GATEWAY_GROUP_ROLE_MAX_AGE", 24 * 3600.0),
        purge_interval_seconds=_seconds(env, "KLIKKFLOW_GATEWAY_PURGE_SECONDS", 300.0),
        graphql_limits=_graphql_limits(env),
        trusted_proxies=parse_trusted_proxies(
            env.get("KLIKKFLOW_GATEWAY_TRUSTED_PROXIES", "").split(","), "KLIKKFLOW_GATEWAY_TRUSTED_PROXIES"
        ),
        oidc=oidc,
    )
