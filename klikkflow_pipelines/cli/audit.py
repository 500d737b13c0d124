"""`klikkflow audit`: verify the hash chain of a tenant's audit log and export entries."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.console import Console

audit_app = typer.Typer(help="Verify and export the tamper-evident audit log.", no_args_is_help=True)
_console = Console(stderr=True)


def _open_log(tenant: str):  # type: ignore[no-untyped-def]
    from compliance.audit import audit_log_for_tenant
    from klikkflow_pipelines.cli.known_tenants import require_known_tenant
    from klikkflow_pipelines.gateway.store import platform_audit_log

    require_known_tenant(tenant, also_allowed=["platform"])

    return platform_audit_log() if tenant == "platform" else audit_log_for_tenant(tenant)


def _iso(value: str | None, option: str) -> str | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not an ISO-8601 date/time (e.g. 2026-01-31 or 2026-01-31T12:00:00+00:00)",
            param_hint=option,
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).isoformat(timespec="microseconds")


@audit_app.command("verify")
def verify(
    tenant: str = typer.Option(
        "default", "--tenant", "-t", help="Tenant id, or 'platform' for gateway sign-ins."
    ),
) -> None:
    """Recompute the hash chain and check signed checkpoints; exit 1 on any problem."""
    from compliance.audit import verify_log

    report = verify_log(_open_log(tenant))
    for problem in report.problems:
        _console.print(f"[red]{problem.kind}[/red] at entry {problem.seq}: {problem.message}")
    if report.ok:
        _console.print(
            f"[green]ok[/green] {report.entries} entries, {report.checkpoints} signed checkpoints, "
            f"head {report.head_seq}:{report.head_hash[:16]}"
        )
        return
    raise typer.Exit(code=1)


@audit_app.command("chain-events")
def chain_events(
    tenant: str = typer.Option("default", "--tenant", "-t", help="Tenant id."),
) -> None:
    """Append the compliance layer's new ``compliance_events`` rows to the tenant's audit log."""
    from compliance.audit.compliance_bridge import chain_compliance_events

    count = chain_compliance_events(_open_log(tenant))
    _console.print(f"chained {count} compliance events")


@audit_app.command("export")
def export(
    tenant: str = typer.Option("default", "--tenant", "-t", help="Tenant id, or 'platform'."),
    since: str | None = typer.Option(None, "--since", help="Inclusive start, ISO-8601 (UTC if no offset)."),
    until: str | None = typer.Option(None, "--until", help="Exclusive end, ISO-8601 (UTC if no offset)."),
    fmt: str = typer.Option("jsonl", "--format", "-f", help="jsonl or csv."),
    output: Path | None = typer.Option(None, "--output", "-o", help="File to write (default: stdout)."),
) -> None:
    """Export entries in a time window as JSON Lines or CSV."""
    from compliance.audit.export import EXPORT_FORMATS, export_entries

    if fmt not in EXPORT_FORMATS:
        raise typer.BadParameter(f"use one of {', '.join(EXPORT_FORMATS)}", param_hint="--format")
    log = _open_log(tenant)
    start, end = _iso(since, "--since"), _iso(until, "--until")
    if output is None:
        count = export_entries(log, sys.stdout, fmt, start, end)
    else:
        with output.open("w", encoding="utf-8", newline="") as handle:
            count = export_entries(log, handle, fmt, start, end)
    _console.print(f"exported {count} entries")
