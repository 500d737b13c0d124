"""`klikkflow tenant`: create, list, show, migrate and delete tenants; scaffold their own code (init-code).

Every tenant file is validated on its own: a broken file is reported with
file, field and fix, and never hides or stops the other tenants.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from klikkflow_pipelines.cli.known_tenants import require_known_tenant
from klikkflow_pipelines.cli.narrow import print_table_or_blocks
from klikkflow_pipelines.cli.platform import (
    PG_URL_HELP,
    POD_HOST_HELP,
    POD_PORT_HELP,
    admin_server,
    pod_database,
    report_provisioning,
)
from klikkflow_pipelines.cli.tenant_code import init_code
from klikkflow_pipelines.paths import klikkflow_home, tenants_config_dir

if TYPE_CHECKING:  # imported when a command runs: `klikkflow --help` stays fast
    from klikkflow_pipelines.config_errors import ConfigError
    from klikkflow_pipelines.tenancy.config import CodeLocation, TenantConfig
    from klikkflow_pipelines.tenancy.deploy_settings import DeploySettings
    from klikkflow_pipelines.tenancy.postgres_server import PostgresServer

_PROVISIONING = {  # what `tenant create` does, shown while it runs
    "sqlite": "storage, tenant file, instance config, code location, k8s manifests, Helm values",
    "postgres": "roles, database, migrations, secrets, tenant file, instance config, code location, "
    "k8s manifests, Helm values",
}
tenant_app = typer.Typer(help="Create, list, show, migrate and delete tenants.", no_args_is_help=True)
tenant_app.command("init-code")(init_code)
_out = Console()
_err = Console(stderr=True)


def _report_config_error(error: ConfigError) -> None:
    for problem in error.problems:
        _err.print(
            f"[bold red]error[/] {escape(problem.file)}: [bold]{escape(problem.field)}[/]: "
            f"{escape(problem.message)}",
            soft_wrap=True,
        )
        _err.print(f"      fix: {escape(problem.fix)}", soft_wrap=True)


def _server(storage: str, pg_url: str | None) -> PostgresServer | None:
    return admin_server(pg_url) if storage == "postgres" else None


def _deploy_settings() -> DeploySettings:
    """The platform settings from ``KLIKKFLOW_*``; a malformed one stops the command with its name."""
    from klikkflow_pipelines.tenancy.deploy_settings import DeploySettings

    try:
        return DeploySettings.from_env()
    except ValueError as exc:
        _err.print(f"[bold red]error[/] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(2) from None


def _config_from_options(tenant_id: str, options: dict[str, object]) -> TenantConfig:
    """Build and validate a new tenant config from command-line options."""
    from klikkflow_pipelines.config_errors import validate_mapping
    from klikkflow_pipelines.tenancy.config import TenantConfig

    plan = {
        k: v for k, v in options.items() if k in {"max_concurrent_runs", "run_priority"} and v is not None
    }
    if options.get("plan_name"):
        plan["name"] = options["plan_name"]
    data: dict[str, object] = {"id": tenant_id, "name": options.get("name") or tenant_id}
    for key in ("region", "timezone"):
        if options.get(key):
            data[key] = options[key]
    if plan:
        data["plan"] = plan
    return validate_mapping(f"command line (tenant {tenant_id})", data, TenantConfig)


@tenant_app.command("create")
def create(
    tenant_id: str = typer.Argument(..., help="Tenant id: lowercase letters, digits and dashes."),
    name: str | None = typer.Option(None, help="Display name (default: the id)."),
    from_file: Path | None = typer.Option(None, "--from-file", help="Copy and provision this tenant file."),
    region: str | None = typer.Option(None, help="Data region, e.g. eu-north-1."),
    timezone: str | None = typer.Option(None, help="IANA time zone of the tenant's schedules."),
    plan: str | None = typer.Option(None, help="Plan name."),
    max_concurrent_runs: int | None = typer.Option(None, help="Plan: runs executing at once."),
    run_priority: int | None = typer.Option(None, help="Plan: dagster/priority of the tenant's runs."),
    storage: str = typer.Option("sqlite", help="sqlite (local dir) or postgres (database klikkflow_<id>)."),
    pg_url: str | None = typer.Option(None, help=PG_URL_HELP),
    rotate_password: bool = typer.Option(False, help="postgres: set a new password for the tenant's role."),
    pod_pg_host: str | None = typer.Option(None, help=POD_HOST_HELP),
    pod_pg_port: int | None = typer.Option(None, help=POD_PORT_HELP),
    tenants_dir: Path | None = typer.Option(None, help="Tenants directory (default: deploy/tenants)."),
) -> None:
    """Provision a tenant: its file, storage, instance config, code location, k8s manifests and Helm values.

    With only an id and an existing ``<id>.yaml`` in the tenants directory, that file is provisioned.
    With ``--storage postgres`` (on the admin connection): the tenant's login and audit roles, its
    database, its migrations, and its secret env files under ``$KLIKKFLOW_HOME/platform/secrets``.
    """
    import psycopg2
    from sqlalchemy.exc import DBAPIError

    from klikkflow_pipelines.cli.progress import progress_steps
    from klikkflow_pipelines.config_errors import ConfigError, load_yaml_model
    from klikkflow_pipelines.tenancy.config import TenantConfig, load_tenant_file
    from klikkflow_pipelines.tenancy.db_roles import RoleConflict
    from klikkflow_pipelines.tenancy.provisioning import provision_tenant

    if storage not in ("sqlite", "postgres"):
        raise typer.BadParameter("use sqlite or postgres", param_hint="--storage")
    directory = tenants_dir or tenants_config_dir()
    existing = directory / f"{tenant_id}.yaml"
    options = {
        "name": name,
        "region": region,
        "timezone": timezone,
        "plan_name": plan,
        "max_concurrent_runs": max_concurrent_runs,
        "run_priority": run_priority,
    }
    try:
        if from_file is not None:
            config = load_yaml_model(from_file, TenantConfig)
            if config.id != tenant_id:
                raise typer.BadParameter(
                    f"{from_file} has id {config.id!r}, not {tenant_id!r}", param_hint="--from-file"
                )
        elif existing.exists() and not any(v is not None for v in options.values()):
            config = load_tenant_file(existing)
        else:
            config = _config_from_options(tenant_id, options)
        settings = _deploy_settings()
        server = _server(storage, pg_url)
        with progress_steps(f"provisioning tenant {tenant_id}: {_PROVISIONING[storage]}"):
            result = provision_tenant(
                config,
                storage=storage,  # type: ignore[arg-type]
                server=server,
                tenants_dir=directory,
                settings=settings,
                rotate_password=rotate_password,
                pod_database=pod_database(pod_pg_host, pod_pg_port, settings),
            )
    except ConfigError as exc:
        _report_config_error(exc)
        raise typer.Exit(1) from None
    except (psycopg2.Error, DBAPIError, OSError, RoleConflict) as exc:  # unreachable, denied, unwritable
        _err.print(
            f"[bold red]error[/] provisioning tenant {escape(repr(tenant_id))} failed: {escape(str(exc))}",
            soft_wrap=True,
        )
        raise typer.Exit(1) from None
    report_provisioning(result.actions, result.warnings, result.secrets)
    _out.print(f"Tenant [bold]{tenant_id}[/] is ready. Start it locally with `klikkflow dev`.")


@tenant_app.command("migrate")
def migrate(
    tenant_id: str = typer.Argument(...),
    pg_url: str | None = typer.Option(None, help=PG_URL_HELP),
    tenants_dir: Path | None = typer.Option(None, help="Tenants directory (default: deploy/tenants)."),
) -> None:
    """Create or upgrade the tables of the tenant's Postgres database (Dagster's, KlikkFlow's, audit).

    Production processes create no tables; run this after `tenant create` made the database and
    after upgrading KlikkFlow or Dagster. Changes nothing that is in place.
    """
    import psycopg2
    from sqlalchemy.exc import DBAPIError

    from klikkflow_pipelines.config_errors import ConfigError
    from klikkflow_pipelines.tenancy.config import load_tenant_file
    from klikkflow_pipelines.tenancy.tenant_database import TenantDatabaseMissing, migrate_tenant_database

    directory = tenants_dir or tenants_config_dir()
    require_known_tenant(tenant_id, tenants_dir=directory)
    try:
        tenant = load_tenant_file(directory / f"{tenant_id}.yaml")
        actions = migrate_tenant_database(tenant, server=admin_server(pg_url))
    except ConfigError as exc:
        _report_config_error(exc)
        raise typer.Exit(1) from None
    except (psycopg2.Error, DBAPIError, OSError, TenantDatabaseMissing) as exc:
        _err.print(
            f"[bold red]error[/] migrating tenant {escape(repr(tenant_id))} failed: {escape(str(exc))}",
            soft_wrap=True,
        )
        raise typer.Exit(1) from None
    for action in actions:
        _out.print(f"[green]✓[/] {escape(action)}", soft_wrap=True)


@tenant_app.command("list")
def list_tenants(
    tenants_dir: Path | None = typer.Option(None, help="Tenants directory (default: deploy/tenants)."),
) -> None:
    """List every tenant with its plan; broken tenant files are listed with what to fix."""
    from klikkflow_pipelines.tenancy.config import load_all_tenants
    from klikkflow_pipelines.tenancy.deploy_settings import tenant_namespace

    loaded, failed = load_all_tenants(tenants_dir)
    columns = ("id", "name", "plan", "max runs", "priority", "region", "namespace", "status")
    rows = []
    for tenant_id in sorted({*loaded, *failed}):
        if tenant_id in loaded:
            t = loaded[tenant_id]
            values = (t.plan.name, str(t.plan.max_concurrent_runs), str(t.plan.run_priority), t.region)
            rows.append((t.id, t.name, *values, tenant_namespace(t.id), "[green]ok[/]"))
        else:
            rows.append((tenant_id, "", "", "", "", "", "", "[bold red]BROKEN[/] (see below)"))
    table = Table(*columns, title="Tenants")
    blocks = []
    for row in rows:
        table.add_row(*(escape(cell) for cell in row[:-1]), row[-1])
        fields = list(zip(columns[1:-1], row[1:-1], strict=True))
        blocks.append((f"[bold]{escape(row[0])}[/] {row[-1]}", fields))
    # per call: the width (COLUMNS) chooses the layout; a narrow terminal gets one block per tenant
    print_table_or_blocks(Console(), table, blocks)
    for error in failed.values():
        _report_config_error(error)
    if failed:
        raise typer.Exit(1)


@tenant_app.command("show")
def show(
    tenant_id: str = typer.Argument(...),
    tenants_dir: Path | None = typer.Option(None, help="Tenants directory (default: deploy/tenants)."),
) -> None:
    """Show one tenant's configuration and where its storage and deployment files are."""
    from klikkflow_pipelines.config_errors import ConfigError
    from klikkflow_pipelines.tenancy.config import load_tenant_file
    from klikkflow_pipelines.tenancy.deploy_settings import tenant_namespace
    from klikkflow_pipelines.tenancy.instance import tenant_database_name
    from klikkflow_pipelines.tenancy.provisioning import TenantLocation

    directory = tenants_dir or tenants_config_dir()
    require_known_tenant(tenant_id, tenants_dir=directory)
    try:
        tenant = load_tenant_file(directory / f"{tenant_id}.yaml")
    except ConfigError as exc:
        _report_config_error(exc)
        raise typer.Exit(1) from None
    where = TenantLocation(tenant.id, directory)
    plan = tenant.plan
    table = Table(title=f"Tenant {tenant.id}", show_header=False)
    table.add_column("field", style="bold", no_wrap=True)
    table.add_column("value", overflow="fold")  # paths and ids fold at 80 columns, never cut
    rows = [
        ("name", tenant.name),
        ("region / timezone", f"{tenant.region} / {tenant.timezone}"),
        (
            "plan",
            f"{plan.name}: {plan.max_concurrent_runs} concurrent runs, priority {plan.run_priority}, "
            f"max runtime {plan.max_runtime_seconds}s",
        ),
        (
            "run resources",
            f"cpu {plan.cpu_request}-{plan.cpu_limit}, memory {plan.memory_request}-{plan.memory_limit}",
        ),
        (
            "node pool",
            f"{tenant.node_pool.node_selector or '-'}; {len(tenant.node_pool.tolerations)} toleration(s)",
        ),
        (
            "egress",
            ", ".join(f"{r.host or r.cidr}:{','.join(map(str, r.ports))}" for r in tenant.network.egress)
            or "-",
        ),
        ("members", ", ".join(f"{m.user} ({m.role})" for m in tenant.members) or "-"),
        ("OIDC groups", ", ".join(f"{g} → {r}" for g, r in tenant.oidc_groups.items()) or "-"),
        ("workflows", ", ".join(n for n, w in tenant.workflows.items() if w.enabled) or "-"),
        ("policy", str(tenant.policy_path() or "-")),
        ("code locations", ", ".join(_describe(loc) for loc in tenant.code_locations) or "-"),
        ("file", str(where.tenant_file)),
        ("local home", f"{where.home}{'' if where.home.exists() else ' (not provisioned)'}"),
        ("Postgres database", tenant_database_name(tenant.id)),
        ("k8s namespace", tenant_namespace(tenant.id)),
        ("k8s files", f"{where.k8s_dir}{'' if where.k8s_dir.exists() else ' (not rendered)'}"),
    ]
    for key, value in rows:
        table.add_row(key, escape(value))
    _out.print(table)
    _show_location_checks(tenant)


def _describe(location: CodeLocation) -> str:
    source = f"module {location.module}" if location.module else f"project {location.project}"
    return f"{location.name} ({source}{', image ' + location.image if location.image else ''})"


def _show_location_checks(tenant: TenantConfig) -> None:
    """Load each of the tenant's own locations (as `klikkflow validate` does); exit 1 if one fails."""
    from klikkflow_pipelines.config_errors import ConfigError
    from klikkflow_pipelines.validation import check_locations

    failed = False
    for report in check_locations(tenant):
        if report.errors:
            failed = True
            _err.print(f"[bold red]code location {escape(report.location)} does not load[/]")
            _report_config_error(ConfigError(report.errors))
        else:
            _out.print(
                f"[green]✓[/] code location {escape(report.location)} loads: {len(report.assets)} assets"
            )
        for problem in report.warnings:
            _err.print(
                f"[yellow]warning[/] {escape(problem.file)}: [bold]{escape(problem.field)}[/]: "
                f"{escape(problem.message)}",
                soft_wrap=True,
            )
    if failed:
        raise typer.Exit(1)


@tenant_app.command("delete")
def delete(
    tenant_id: str = typer.Argument(...),
    confirm: str | None = typer.Option(None, help="Repeat the tenant id to confirm without a prompt."),
    drop_database: bool = typer.Option(
        False, help="Also drop database klikkflow_<id>, its roles and its secret env files."
    ),
    pg_url: str | None = typer.Option(None, help=PG_URL_HELP),
    tenants_dir: Path | None = typer.Option(None, help="Tenants directory (default: deploy/tenants)."),
) -> None:
    """Delete one tenant's file, local storage, k8s files and optionally its database (asks first)."""
    import psycopg2

    from klikkflow_pipelines.config_errors import ConfigError
    from klikkflow_pipelines.tenancy.db_roles import tenant_audit_role
    from klikkflow_pipelines.tenancy.instance import tenant_database_name
    from klikkflow_pipelines.tenancy.provisioning import TenantLocation, delete_tenant

    directory = tenants_dir or tenants_config_dir()
    if not (klikkflow_home(create=False) / "tenants" / tenant_id).exists():  # a leftover home may be deleted
        require_known_tenant(tenant_id, tenants_dir=directory)
    where = TenantLocation(tenant_id, directory)
    if confirm is None:
        _out.print(
            f"This deletes tenant [bold]{tenant_id}[/]: {where.tenant_file}, {where.home}, {where.k8s_dir}"
            + (
                f", database {tenant_database_name(tenant_id)}, roles {tenant_database_name(tenant_id)} and "
                f"{tenant_audit_role(tenant_id)}, and its secret env files"
                if drop_database
                else ""
            )
            + "."
        )
        confirm = typer.prompt("Type the tenant id to confirm")
    try:
        result = delete_tenant(
            tenant_id,
            confirm=confirm,
            drop_database=drop_database,
            server=_server("postgres", pg_url) if drop_database else None,
            tenants_dir=directory,
            settings=_deploy_settings(),
        )
    except (ValueError, ConfigError, psycopg2.Error) as exc:
        _err.print(f"[bold red]error[/] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(1) from None
    for action in result.actions:
        _out.print(f"[green]✓[/] {escape(action)}", soft_wrap=True)
