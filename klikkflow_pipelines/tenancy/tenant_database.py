"""A tenant's (and the platform's) production database end to end: roles, migrations, secret files.

:func:`provision_tenant_database` is what ``klikkflow tenant create --storage postgres`` runs:
under the tenant's provisioning lock it creates or keeps the roles and the database
(:mod:`.db_roles`), migrates every table (:mod:`.migrate`) and writes the tenant's secret env
files (:mod:`.secret_files`). :func:`init_platform` does the same for the gateway
(``klikkflow platform init``), :func:`delete_tenant_database` undoes a tenant's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from compliance.audit.keys import audit_key, load_signing_key, signing_key_path, tenant_writer_key_value
from compliance.token_keys import load_detokenize_key, public_key_hex
from klikkflow_pipelines.tenancy.config import TenantConfig
from klikkflow_pipelines.tenancy.db_roles import (
    Platform,
    drop_tenant_database,
    ensure_platform,
    ensure_tenant_database,
    new_password,
    provisioning_lock,
)
from klikkflow_pipelines.tenancy.deploy_settings import DeploySettings
from klikkflow_pipelines.tenancy.instance import tenant_database_name
from klikkflow_pipelines.tenancy.migrate import migrate_platform, migrate_tenant
from klikkflow_pipelines.tenancy.postgres_server import PostgresServer
from klikkflow_pipelines.tenancy.secret_files import (
    PodDatabase,
    SecretFile,
    gateway_env_file,
    read_env_file,
    remove_tenant_secrets,
    tenant_env_file,
    write_gateway_secrets,
    write_tenant_secrets,
)


@dataclass
class DatabaseProvision:
    """What provisioning did (for the CLI), what to warn about, and the secret files written."""

    actions: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    secrets: list[SecretFile] = field(default_factory=list)


def pod_database_from_settings(settings: DeploySettings | None = None) -> PodDatabase:
    """Where the pods reach Postgres: ``KLIKKFLOW_K8S_PG_HOST``/``PORT`` (``DeploySettings``)."""
    settings = settings or DeploySettings.from_env()
    return PodDatabase(settings.postgres_host, settings.postgres_port)


def _password(known: str | None, rotate: bool) -> str:
    return new_password() if rotate or not known else known


def _unknown_password_warning(result: DatabaseProvision, role: str, path: str) -> None:
    result.warnings.append(
        f"the password of role {role} is not in {path} (the role existed before); "
        "run again with --rotate-password to set a new one, or fill it in"
    )


def provision_tenant_database(
    tenant: TenantConfig,
    *,
    server: PostgresServer,
    platform: Platform = Platform(),
    rotate_password: bool = False,
    pod_database: PodDatabase | None = None,
    supplied: Mapping[str, str] | None = None,
) -> DatabaseProvision:
    """Create or keep the tenant's roles and database, migrate it, and write its secret env files.

    Idempotent: a second run keeps roles, database, tables and secrets; ``rotate_password`` sets
    a new login password (database and files). Two runs for one tenant at once wait for each
    other. ``supplied`` fills secret keys the CLI cannot know (object store); ``pod_database``
    (default: ``KLIKKFLOW_K8S_PG_HOST``/``PORT``) is the address in the warehouse URL.
    """
    result = DatabaseProvision()
    with provisioning_lock(server, tenant_database_name(tenant.id)):
        known = read_env_file(tenant_env_file(tenant.id)).get("KLIKKFLOW_PG_PASSWORD") or None
        password = _password(known, rotate_password)
        roles = ensure_tenant_database(
            server, tenant.id, password, reset_password=rotate_password, platform=platform
        )
        result.actions += roles.actions
        result.warnings += roles.warnings
        result.actions += migrate_tenant(server, tenant)
        result.secrets = write_tenant_secrets(
            tenant.id,
            pg_password=password if roles.password_set else known,
            pod_database=pod_database or pod_database_from_settings(),
            writer_key=tenant_writer_key_value(audit_key(), tenant.id),
            token_public_key=public_key_hex(load_detokenize_key(tenant.id)),
            supplied=supplied,
            defaults={"AWS_DEFAULT_REGION": tenant.region},
        )
    if not roles.password_set and not known:
        _unknown_password_warning(result, tenant_database_name(tenant.id), str(result.secrets[0].path))
    return result


class TenantDatabaseMissing(LookupError):
    """``tenant migrate`` of a tenant whose database was never created."""


def migrate_tenant_database(tenant: TenantConfig, *, server: PostgresServer) -> list[str]:
    """``klikkflow tenant migrate``: the tenant's migrations alone, under its provisioning lock."""
    database = tenant_database_name(tenant.id)
    with provisioning_lock(server, database):
        if not server.database_exists(database):
            raise TenantDatabaseMissing(
                f"database {database} does not exist on {server.host}:{server.port}. Fix: "
                f"`klikkflow tenant create {tenant.id} --storage postgres` creates it, its roles and tables"
            )
        return migrate_tenant(server, tenant)


def delete_tenant_database(
    tenant_id: str, *, server: PostgresServer, platform: Platform = Platform()
) -> list[str]:
    """Drop the tenant's database, login role and audit role, and delete its secret env files."""
    with provisioning_lock(server, tenant_database_name(tenant_id)):
        actions = drop_tenant_database(server, tenant_id, platform=platform).actions
        actions += [f"removed {path}" for path in remove_tenant_secrets(tenant_id)]
    return actions


def init_platform(
    *,
    server: PostgresServer,
    platform: Platform = Platform(),
    rotate_password: bool = False,
    settings: DeploySettings | None = None,
    pod_database: PodDatabase | None = None,
) -> DatabaseProvision:
    """``klikkflow platform init``: the gateway role, the platform database and its tables, the
    gateway's membership in every tenant role, and the gateway's secret env file.

    The audit checkpoint signing key is created once if missing (like ``klikkflow
    token-public-key`` creates detokenize keys); only its public half goes into the gateway's file.
    """
    settings = settings or DeploySettings.from_env()
    result = DatabaseProvision()
    with provisioning_lock(server, platform.database):
        known = read_env_file(gateway_env_file()).get("KLIKKFLOW_PG_PASSWORD") or None
        password = _password(known, rotate_password)
        roles = ensure_platform(server, password, reset_password=rotate_password, platform=platform)
        result.actions += roles.actions
        result.actions += migrate_platform(server, platform)
        signing_key = load_signing_key()
        result.secrets = [
            write_gateway_secrets(
                namespace=settings.platform_namespace,
                pg_user=platform.gateway_role,
                pg_password=password if roles.password_set else known,
                pod_database=pod_database or pod_database_from_settings(settings),
                database=platform.database,
                audit_key=audit_key().decode(),
                audit_public_key=signing_key.public_key().public_bytes_raw().hex(),
            )
        ]
    result.actions.append(
        f"audit checkpoint signing key: {signing_key_path()} (its own Secret, mounted only into the "
        "checkpointer; never into the gateway or a tenant pod)"
    )
    if not roles.password_set and not known:
        _unknown_password_warning(result, platform.gateway_role, str(result.secrets[0].path))
    return result
