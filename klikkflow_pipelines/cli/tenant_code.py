"""`klikkflow tenant init-code`: scaffold a tenant's own dg project and register it as a code location."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from klikkflow_pipelines.cli.known_tenants import require_known_tenant
from klikkflow_pipelines.paths import tenants_config_dir

_out = Console()
_err = Console(stderr=True)


def init_code(
    tenant_id: str = typer.Argument(..., help="The tenant that owns the new code."),
    directory: Path = typer.Argument(..., help="Folder of the new project (missing or empty)."),
    name: str | None = typer.Option(None, help="Location and package name (default: <tenant>_pipelines)."),
    tenants_dir: Path | None = typer.Option(None, help="Tenants directory (default: deploy/tenants)."),
) -> None:
    """Create a ready dg project (definitions, a sample asset, its test) and add it to the tenant file."""
    from klikkflow_pipelines.config_errors import ConfigError
    from klikkflow_pipelines.tenant_code.scaffold import init_code as scaffold

    folder = tenants_dir or tenants_config_dir()
    require_known_tenant(tenant_id, tenants_dir=folder)
    try:
        created = scaffold(folder / f"{tenant_id}.yaml", directory, name)
    except ConfigError as exc:
        for problem in exc.problems:
            _err.print(
                f"[bold red]error[/] {escape(problem.file)}: [bold]{escape(problem.field)}[/]: "
                f"{escape(problem.message)}",
                soft_wrap=True,
            )
            _err.print(f"      fix: {escape(problem.fix)}", soft_wrap=True)
        raise typer.Exit(1) from None
    for path in created.files:
        _out.print(f"[green]✓[/] wrote {path}")
    _out.print(f"[green]✓[/] added code location [bold]{created.location}[/] to {created.tenant_file}")
    _out.print(
        "Next steps:\n"
        f"  1. edit {directory}/src/{created.package}/defs/ (one module per group of assets)\n"
        f"  2. test it:      cd {directory} && python -m pytest -q\n"
        "  3. check it:     klikkflow validate\n"
        f"  4. run it:       klikkflow dev --tenant {tenant_id}\n"
        "  5. production:   build an image with this project installed and set `image:` on the entry"
    )
