"""Postgres roles and databases of the platform and of each tenant, made on the admin connection.

Per tenant ``acme-corp`` (``id_`` = ``acme_corp``):

- login role ``klikkflow_acme_corp`` (LOGIN, no other attribute): CONNECT and TEMPORARY on its
  database, USAGE and CREATE on its schema ``public``; owns what the migrations create as it
  (Dagster's tables, KlikkFlow's tables, the ``warehouse`` schema);
- audit role ``kf_audit_acme_corp`` (NOLOGIN): owns the database ``klikkflow_acme_corp`` (so the
  login role cannot drop it from the maintenance database), the audit tables and their trigger
  function;
- ``kf_gateway`` is made a member of the login role, so the gateway reaches every tenant
  database with one login; no tenant role is a member of anything.

The platform: login role ``kf_gateway``, database ``kf_platform`` owned by ``kf_audit_platform``
and CONNECT-able only by ``kf_gateway``.

``REVOKE ALL ON DATABASE ... FROM PUBLIC`` on every one of these databases. Every function is
idempotent: existing roles and databases are kept, a password is set only when a role is created
or when the caller asks for a new one. Roles and databases are always named through
:class:`psycopg2.sql.Identifier`. Callers serialize provisioning of one database with
:func:`provisioning_lock`.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from psycopg2 import errors, sql
from psycopg2.extensions import cursor as Cursor
from psycopg2.extensions import encrypt_password

from klikkflow_pipelines.tenancy.instance import tenant_database_name
from klikkflow_pipelines.tenancy.postgres_server import PostgresServer

AUDIT_ROLE_PREFIX = "kf_audit_"
WAREHOUSE_SCHEMA = "warehouse"
"""The tenant's warehouse tables' schema in its database (owned by its login role)."""
_PLAIN = "NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT"


@dataclass(frozen=True)
class Platform:
    """The platform's names on the server (tests use their own, suffixed)."""

    gateway_role: str = "kf_gateway"
    database: str = "kf_platform"
    audit_role: str = "kf_audit_platform"


def tenant_login_role(tenant_id: str) -> str:
    """The tenant's login role, named like its database: ``klikkflow_<id_>``."""
    return tenant_database_name(tenant_id)


def tenant_audit_role(tenant_id: str) -> str:
    """The role owning the tenant's database and audit tables: ``kf_audit_<id_>`` (never a login)."""
    return AUDIT_ROLE_PREFIX + tenant_id.replace("-", "_")


def tenant_names(tenant_id: str) -> tuple[str, str, str]:
    """The tenant's database, login role and audit role."""
    return tenant_database_name(tenant_id), tenant_login_role(tenant_id), tenant_audit_role(tenant_id)


def new_password() -> str:
    """A random password (256 bits, URL- and env-file-safe characters)."""
    return secrets.token_urlsafe(32)


class RoleConflict(RuntimeError):
    """A role with a name KlikkFlow provisions exists with privileges KlikkFlow never gives."""


@contextmanager
def provisioning_lock(server: PostgresServer, database: str) -> Iterator[None]:
    """Hold a session advisory lock (on the maintenance database) named for ``database`` meanwhile:
    two ``tenant create`` of one id, or a create and a migrate, run one after the other."""
    with server.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_lock(hashtextextended(%s, 0))", (f"klikkflow.provision.{database}",)
        )
        yield  # closing the connection releases the lock, also when the body raises


def _role_exists(cursor: Cursor, role: str) -> bool:
    cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
    return cursor.fetchone() is not None


def _check_plain(cursor: Cursor, role: str, *, login: bool) -> None:
    """An existing role of ours must have no power beyond what we give it (an owner role no LOGIN)."""
    cursor.execute(
        "SELECT rolsuper OR rolcreatedb OR rolcreaterole OR rolreplication OR rolbypassrls, rolcanlogin "
        "FROM pg_roles WHERE rolname = %s",
        (role,),
    )
    powerful, can_login = cursor.fetchone()
    if powerful:
        raise RoleConflict(
            f"role {role} exists with SUPERUSER, CREATEDB, CREATEROLE, REPLICATION or BYPASSRLS; "
            "KlikkFlow never gives these to its roles. Fix: drop or rename that role, or remove the "
            "attributes (ALTER ROLE ... NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS)"
        )
    if can_login and not login:
        raise RoleConflict(
            f"role {role} exists with LOGIN, but it owns a database and its audit tables, so nobody may "
            f"log in as it. Fix: ALTER ROLE {role} NOLOGIN"
        )


def _password_literal(cursor: Cursor, role: str, password: str) -> sql.Composable:
    # hashed here (SCRAM, as the server's password_encryption says): the clear text never reaches its logs
    return sql.Literal(encrypt_password(password, role, cursor.connection))


def _ensure_role(cursor: Cursor, role: str, *, password: str | None, reset_password: bool = False) -> bool:
    """Create ``role`` (LOGIN with ``password``, else NOLOGIN) if missing; return whether a password was set.

    An existing role is kept; its password is replaced only with ``reset_password``.
    """
    login = sql.SQL("LOGIN PASSWORD {}") if password else sql.SQL("NOLOGIN")
    if _role_exists(cursor, role):
        _check_plain(cursor, role, login=password is not None)
        if password and reset_password:
            statement = sql.SQL("ALTER ROLE {} WITH LOGIN PASSWORD {}")
            cursor.execute(statement.format(sql.Identifier(role), _password_literal(cursor, role, password)))
            return True
        return False
    if password:
        login = login.format(_password_literal(cursor, role, password))
    try:
        cursor.execute(sql.SQL("CREATE ROLE {} {} " + _PLAIN).format(sql.Identifier(role), login))
    except (errors.DuplicateObject, errors.UniqueViolation):
        return False  # created meanwhile by a caller outside provisioning_lock: theirs is kept
    return password is not None


def _act_as(cursor: Cursor, role: str) -> None:
    """Make the admin able to create objects owned by ``role`` (a non-superuser admin must be a member)."""
    cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
    if not cursor.fetchone()[0]:
        cursor.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(sql.Identifier(role)))


def _ensure_database(cursor: Cursor, database: str, owner: str) -> bool:
    """Create ``database`` owned by ``owner`` if missing (else give it to ``owner``); True if created."""
    _act_as(cursor, owner)
    cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
    if cursor.fetchone() is None:
        try:
            cursor.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(database), sql.Identifier(owner))
            )
            return True
        except errors.DuplicateDatabase:
            pass
    cursor.execute(
        sql.SQL("ALTER DATABASE {} OWNER TO {}").format(sql.Identifier(database), sql.Identifier(owner))
    )
    return False


def _grant_database(server: PostgresServer, cursor: Cursor, database: str, user: str) -> None:
    """Only ``user`` (and its members) may connect to ``database`` and create in its schema ``public``."""
    db, who = sql.Identifier(database), sql.Identifier(user)
    cursor.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(db))
    cursor.execute(sql.SQL("GRANT CONNECT, TEMPORARY ON DATABASE {} TO {}").format(db, who))
    with server.cursor(database) as inside:
        inside.execute(sql.SQL("GRANT USAGE, CREATE ON SCHEMA public TO {}").format(who))


def _grant_to_gateway(cursor: Cursor, login: str, gateway: str) -> bool:
    if not _role_exists(cursor, gateway):
        return False
    cursor.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(login), sql.Identifier(gateway)))
    return True


@dataclass
class RoleResult:
    """What creating or dropping roles did: lines for the CLI, and whether a login password was set."""

    actions: list[str] = field(default_factory=list)
    password_set: bool = False
    warnings: list[str] = field(default_factory=list)


def ensure_tenant_database(
    server: PostgresServer,
    tenant_id: str,
    password: str,
    *,
    reset_password: bool = False,
    platform: Platform = Platform(),
) -> RoleResult:
    """Create (or keep) the tenant's login role, audit role and database, with the grants above.

    ``password`` becomes the login role's password when the role is created, or with
    ``reset_password``. The gateway role is made a member when it exists (``klikkflow platform
    init`` grants it every tenant that existed before it).
    """
    database, login, audit = tenant_names(tenant_id)
    result = RoleResult()
    with server.cursor() as cursor:
        created_login = not _role_exists(cursor, login)
        result.password_set = _ensure_role(cursor, login, password=password, reset_password=reset_password)
        result.actions.append(
            f"{'created' if created_login else 'kept'} login role {login}"
            + (" (new password)" if result.password_set and not created_login else "")
        )
        created_audit = not _role_exists(cursor, audit)
        _ensure_role(cursor, audit, password=None)
        _act_as(cursor, login)  # the migrations act as the login role
        result.actions.append(f"{'created' if created_audit else 'kept'} audit role {audit}")
        created = _ensure_database(cursor, database, audit)
        result.actions.append(
            f"{'created' if created else 'kept existing'} Postgres database {database} on "
            f"{server.host}:{server.port}, owned by {audit}"
        )
        _grant_database(server, cursor, database, login)
        if _grant_to_gateway(cursor, login, platform.gateway_role):
            result.actions.append(f"granted {login} to {platform.gateway_role}")
        else:
            result.warnings.append(
                f"gateway role {platform.gateway_role} does not exist yet: run `klikkflow platform init` "
                f"(it makes the gateway a member of every tenant role, {login} included)"
            )
    return result


def tenant_roles(cursor: Cursor, platform: Platform) -> list[str]:
    """The login roles of every provisioned tenant on the server (those with a matching audit role)."""
    start = len(AUDIT_ROLE_PREFIX) + 1
    cursor.execute(
        "SELECT 'klikkflow_' || substr(a.rolname, %s) FROM pg_roles a "
        "JOIN pg_roles l ON l.rolname = 'klikkflow_' || substr(a.rolname, %s) "
        "WHERE a.rolname LIKE %s AND a.rolname <> %s ORDER BY 1",
        (start, start, AUDIT_ROLE_PREFIX.replace("_", r"\_") + "%", platform.audit_role),
    )
    return [row[0] for row in cursor.fetchall()]


def ensure_platform(
    server: PostgresServer, password: str, *, reset_password: bool = False, platform: Platform = Platform()
) -> RoleResult:
    """Create (or keep) the gateway login role and the platform database, and make the gateway a
    member of every existing tenant login role."""
    result = RoleResult()
    with server.cursor() as cursor:
        existed = _role_exists(cursor, platform.gateway_role)
        result.password_set = _ensure_role(
            cursor, platform.gateway_role, password=password, reset_password=reset_password
        )
        result.actions.append(
            f"{'kept' if existed else 'created'} gateway role {platform.gateway_role}"
            + (" (new password)" if result.password_set and existed else "")
        )
        _ensure_role(cursor, platform.audit_role, password=None)
        _act_as(cursor, platform.gateway_role)
        created = _ensure_database(cursor, platform.database, platform.audit_role)
        result.actions.append(
            f"{'created' if created else 'kept existing'} platform database {platform.database}, "
            f"owned by {platform.audit_role}"
        )
        _grant_database(server, cursor, platform.database, platform.gateway_role)
        for login in tenant_roles(cursor, platform):
            _grant_to_gateway(cursor, login, platform.gateway_role)
            result.actions.append(f"granted {login} to {platform.gateway_role}")
    return result


def drop_tenant_database(
    server: PostgresServer, tenant_id: str, *, platform: Platform = Platform()
) -> RoleResult:
    """Drop exactly the tenant's database, then its login role (after revoking the gateway's
    membership) and its audit role. Missing ones are reported, not errors."""
    database, login, audit = tenant_names(tenant_id)
    result = RoleResult()
    with server.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
        if cursor.fetchone():
            cursor.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(database)))
            result.actions.append(f"dropped Postgres database {database}")
        else:
            result.actions.append(f"no Postgres database {database}")
        if _role_exists(cursor, login) and _role_exists(cursor, platform.gateway_role):
            cursor.execute(
                sql.SQL("REVOKE {} FROM {}").format(
                    sql.Identifier(login), sql.Identifier(platform.gateway_role)
                )
            )
        for role in (login, audit):
            if _role_exists(cursor, role):
                cursor.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
                result.actions.append(f"dropped role {role}")
    return result
