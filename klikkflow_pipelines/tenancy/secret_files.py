"""The Kubernetes Secrets of a tenant and of the gateway, written as ``KEY=value`` env files.

Each file is what ``kubectl create secret generic NAME --from-env-file=FILE`` turns into the
Secret, and what the production rehearsal loads as a process environment. They live in
``$KLIKKFLOW_HOME/platform/secrets/`` (directory 0700, files 0600, written atomically), never in
the repository or in values files:

- ``kf-<id>-env.env``: Secret ``kf-<id>-env`` in namespace ``kf-<id>``, the tenant's credentials
  and keys (:data:`TENANT_KEYS`);
- ``kf-<id>-postgresql.env``: Secret ``kf-<id>-postgresql`` (``postgresql-password``), which
  Dagster's chart reads through ``global.postgresqlSecretName``;
- ``klikkflow-gateway-env.env``: Secret ``klikkflow-gateway-env`` in ``klikkflow-system``.

Values the CLI knows are filled in; generated secrets (passwords, the tenant key, the gateway
secret) and whatever the operator wrote into a file are kept when the file is written again;
values the CLI cannot know (object-store credentials) are left empty and listed as to fill in.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from compliance.home import platform_home
from compliance.keyfiles import publish_file, random_hex_key
from klikkflow_pipelines.tenancy.db_roles import WAREHOUSE_SCHEMA
from klikkflow_pipelines.tenancy.deploy_settings import (
    GATEWAY_ENV_SECRET,
    tenant_env_secret,
    tenant_namespace,
    tenant_postgres_secret,
)
from klikkflow_pipelines.tenancy.instance import tenant_database_name
from klikkflow_pipelines.tenancy.postgres_server import PostgresServer

POSTGRESQL_PASSWORD_KEY = "postgresql-password"
TENANT_KEYS = (
    "KLIKKFLOW_PG_USER",
    "KLIKKFLOW_PG_PASSWORD",
    "KLIKKFLOW_TENANT_KEY",
    "KLIKKFLOW_AUDIT_TENANT_WRITER_KEY",
    "KLIKKFLOW_TOKEN_PUBLIC_KEY",
    "KLIKKFLOW_WAREHOUSE_URL",
    "KLIKKFLOW_STORAGE_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_ENDPOINT_URL",
    "AWS_DEFAULT_REGION",
)
GATEWAY_KEYS = (
    "KLIKKFLOW_GATEWAY_SECRET",
    "KLIKKFLOW_GATEWAY_DB_URL",
    "KLIKKFLOW_PG_USER",
    "KLIKKFLOW_PG_PASSWORD",
    "KLIKKFLOW_AUDIT_KEY",
    "KLIKKFLOW_AUDIT_PUBLIC_KEY",
    "KLIKKFLOW_OIDC_CLIENT_SECRET",
)
OPTIONAL_KEYS = {
    "AWS_ENDPOINT_URL": "empty for AWS itself",
    "KLIKKFLOW_OIDC_CLIENT_SECRET": "only with OIDC sign-in",
}
"""Keys that may stay empty, and when."""


def secrets_dir() -> Path:
    """``$KLIKKFLOW_HOME/platform/secrets`` (mode 0700), created if missing."""
    directory = platform_home() / "secrets"
    directory.mkdir(mode=0o700, exist_ok=True)
    directory.chmod(0o700)
    return directory


def tenant_env_file(tenant_id: str) -> Path:
    """``$KLIKKFLOW_HOME/platform/secrets/kf-<id>-env.env``."""
    return secrets_dir() / f"{tenant_env_secret(tenant_id)}.env"


def tenant_postgresql_file(tenant_id: str) -> Path:
    """``$KLIKKFLOW_HOME/platform/secrets/kf-<id>-postgresql.env``."""
    return secrets_dir() / f"{tenant_postgres_secret(tenant_id)}.env"


def gateway_env_file() -> Path:
    """``$KLIKKFLOW_HOME/platform/secrets/klikkflow-gateway-env.env``."""
    return secrets_dir() / f"{GATEWAY_ENV_SECRET}.env"


def read_env_file(path: Path) -> dict[str, str]:
    """The ``KEY=value`` lines of ``path`` (blank and ``#`` lines skipped); empty if there is no file."""
    if not path.exists():
        return {}
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value
    return values


@dataclass(frozen=True)
class SecretFile:
    """One written env file, the Secret it becomes, and its keys still to fill in."""

    path: Path
    secret: str
    namespace: str
    fill_in: tuple[str, ...]

    def kubectl(self) -> str:
        """The command that creates the Secret from the file."""
        return f"kubectl -n {self.namespace} create secret generic {self.secret} --from-env-file={self.path}"


def _write(path: Path, secret: str, namespace: str, values: Mapping[str, str]) -> SecretFile:
    bad = [key for key, value in values.items() if "\n" in value or "\r" in value]
    if bad:
        raise ValueError(f"{path}: values of {', '.join(bad)} span lines; an env file holds one per line")
    header = (
        f"# Kubernetes Secret {secret} (namespace {namespace}), written by the klikkflow CLI.\n"
        f"# kubectl -n {namespace} create secret generic {secret} --from-env-file={path.name}\n"
    )
    secrets_dir()
    publish_file(path, header + "".join(f"{key}={value}\n" for key, value in values.items()), replace=True)
    os.chmod(path, 0o600)
    return SecretFile(path, secret, namespace, tuple(k for k, v in values.items() if not v))


def _merge(
    keys: tuple[str, ...], existing: Mapping[str, str], known: Mapping[str, str], defaults: Mapping[str, str]
) -> dict[str, str]:
    """``known`` wins, then the file's values (the operator's, extra keys), then ``defaults``, else empty."""
    merged = {key: known.get(key) or existing.get(key) or defaults.get(key, "") for key in keys}
    merged.update({key: value for key, value in existing.items() if key not in merged})
    return merged


@dataclass(frozen=True)
class PodDatabase:
    """How pods reach Postgres (``DeploySettings`` ``postgres_host``/``port``, or the rehearsal's)."""

    host: str
    port: int

    def login(self, user: str, password: str) -> PostgresServer:
        """``user`` with ``password`` at this address (its ``url`` is what the pods connect with)."""
        return PostgresServer(host=self.host, port=self.port, user=user, password=password)


def write_tenant_secrets(
    tenant_id: str,
    *,
    pg_password: str | None,
    pod_database: PodDatabase,
    writer_key: str,
    token_public_key: str,
    supplied: Mapping[str, str] | None = None,
    defaults: Mapping[str, str] | None = None,
) -> list[SecretFile]:
    """Write (or update) the tenant's two env files; return them.

    ``pg_password`` ``None`` keeps the password the file holds (the role exists and its password
    is not known now). The tenant key is generated once and then kept. ``supplied`` sets keys
    the CLI cannot know (``KLIKKFLOW_STORAGE_URL``, ``AWS_*``); ``defaults`` fills them only
    where the file holds no value.
    """
    path = tenant_env_file(tenant_id)
    existing = read_env_file(path)
    login = database = tenant_database_name(tenant_id)
    password = pg_password or existing.get("KLIKKFLOW_PG_PASSWORD", "")
    known = {
        **(supplied or {}),
        "KLIKKFLOW_PG_USER": login,
        "KLIKKFLOW_PG_PASSWORD": password,
        "KLIKKFLOW_TENANT_KEY": existing.get("KLIKKFLOW_TENANT_KEY") or random_hex_key(),
        "KLIKKFLOW_AUDIT_TENANT_WRITER_KEY": writer_key,
        "KLIKKFLOW_TOKEN_PUBLIC_KEY": token_public_key,
    }
    if password:
        known["KLIKKFLOW_WAREHOUSE_URL"] = pod_database.login(login, password).url(
            database, search_path=WAREHOUSE_SCHEMA
        )
    namespace = tenant_namespace(tenant_id)
    values = _merge(TENANT_KEYS, existing, known, defaults or {})
    return [
        _write(path, tenant_env_secret(tenant_id), namespace, values),
        _write(
            tenant_postgresql_file(tenant_id),
            tenant_postgres_secret(tenant_id),
            namespace,
            {POSTGRESQL_PASSWORD_KEY: values["KLIKKFLOW_PG_PASSWORD"]},
        ),
    ]


def write_gateway_secrets(
    *,
    namespace: str,
    pg_user: str,
    pg_password: str | None,
    pod_database: PodDatabase,
    database: str,
    audit_key: str,
    audit_public_key: str,
) -> SecretFile:
    """Write (or update) the gateway's env file; the gateway secret is generated once and then kept."""
    path = gateway_env_file()
    existing = read_env_file(path)
    password = pg_password or existing.get("KLIKKFLOW_PG_PASSWORD", "")
    known = {
        "KLIKKFLOW_GATEWAY_SECRET": existing.get("KLIKKFLOW_GATEWAY_SECRET") or random_hex_key(),
        "KLIKKFLOW_PG_USER": pg_user,
        "KLIKKFLOW_PG_PASSWORD": password,
        "KLIKKFLOW_AUDIT_KEY": audit_key,
        "KLIKKFLOW_AUDIT_PUBLIC_KEY": audit_public_key,
    }
    if password:
        known["KLIKKFLOW_GATEWAY_DB_URL"] = pod_database.login(pg_user, password).url(database)
    return _write(path, GATEWAY_ENV_SECRET, namespace, _merge(GATEWAY_KEYS, existing, known, {}))


def remove_tenant_secrets(tenant_id: str) -> list[Path]:
    """Delete the tenant's two env files; return those that existed."""
    removed = []
    for path in (tenant_env_file(tenant_id), tenant_postgresql_file(tenant_id)):
        if path.exists():
            path.unlink()
            removed.append(path)
    return removed
