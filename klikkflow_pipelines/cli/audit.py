"""`klikkflow audit`: verify a tenant's audit log, sign checkpoints of it, export entries."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import typer
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from compliance.audit.log import AuditLog
    from klikkflow_pipelines.cli.progress import Steps

audit_app = typer.Typer(
    help="Verify, checkpoint and export the tamper-evident audit log.", no_args_is_help=True
)
_console = Console(stderr=True)


def _open_log(tenant: str, *, nothing: str | None = None) -> AuditLog:
    """The audit log of ``tenant``; with ``nothing`` (a read command), exit 0 saying it when there is none."""
    from klikkflow_pipelines.cli.known_tenants import require_known_tenant
    from klikkflow_pipelines.cli.local_state import exit_if_no_store

    require_known_tenant(tenant, also_allowed=["platform"])
    if nothing is not None:
        exit_if_no_store(tenant, nothing)
    if tenant == "platform":
        from klikkflow_pipelines.gateway.store import platform_audit_log

        return platform_audit_log()
    from compliance.audit.log import audit_log_for_tenant

    return audit_log_for_tenant(tenant)


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
    """Check the HMAC chain, the signed checkpoints and the witness; exit 1 on any problem."""
    from compliance.audit import verify_log
    from klikkflow_pipelines.cli.progress import progress_steps

    log = _open_log(tenant, nothing="no audit log yet, nothing to verify")
    with progress_steps(f"verifying the audit log of {tenant}"):
        report = verify_log(log)
    for problem in report.problems:
        _console.print(
            f"[red]{problem.kind}[/red] at entry {problem.seq}: {escape(problem.message)}", soft_wrap=True
        )
    first = report.first_problem()
    if first is None:
        _console.print(
            f"[green]ok[/green] {report.entries} entries, {report.checkpoints} witnessed checkpoints, "
            f"{report.unchecked} entries since the last one, head {report.head_seq}:{report.head_hash[:16]}"
        )
        return
    _console.print(
        f"[red]FAILED[/red]: {len(report.problems)} problems; first bad entry {first.seq} ({first.kind})"
    )
    raise typer.Exit(code=1)


def _all_logs(tenants: list[str]) -> Callable[[], Iterator[AuditLog]]:
    """Opens the audit logs to checkpoint: the given tenants, or every tenant and the platform log."""
    from klikkflow_pipelines.tenancy.config import load_all_tenants

    def open_logs() -> Iterator[AuditLog]:
        ids = tenants or ["platform", *sorted(load_all_tenants()[0])]
        for tenant_id in ids:
            try:
                yield _open_log(tenant_id)
            except Exception as exc:  # one unreachable database must not stop the others
                _console.print(
                    f"[red]{escape(tenant_id)}[/red]: cannot open its audit log: {escape(str(exc))}"
                )

    return open_logs


@audit_app.command("checkpoint")
def checkpoint(
    tenant: list[str] | None = typer.Option(
        None,
        "--tenant",
        "-t",
        help="Tenant id or 'platform' (repeatable); default: all tenants and platform.",
    ),
    loop: bool = typer.Option(False, "--loop", help="Keep running, checkpointing each log when due."),
    interval: float = typer.Option(5.0, "--interval", help="Seconds between checks with --loop."),
) -> None:
    """Sign the head of each audit log and copy the checkpoint to the witness store (platform only).

    Holds the checkpoint signing key: run it as a platform process, never in a tenant's pods.
    """
    from compliance.audit.checkpointer import checkpoint_log, run_checkpointer
    from compliance.audit.keys import load_signing_key
    from klikkflow_pipelines.cli.known_tenants import require_known_tenant

    for tenant_id in tenant or []:  # before the key is read or a log opened
        require_known_tenant(tenant_id, also_allowed=["platform"])
    key = load_signing_key()
    open_logs = _all_logs(tenant or [])
    if loop:
        _console.print(f"checkpointer running every {interval:g} s; Ctrl-C stops it")
        with contextlib.suppress(KeyboardInterrupt):
            run_checkpointer(open_logs, key, interval=interval, report=_console.print)
        return
    failed = False
    for log in open_logs():
        try:
            signed = checkpoint_log(log, key)
        except Exception as exc:  # reported per log; the others are still checkpointed
            _console.print(f"[red]{escape(log.tenant)}[/red]: checkpoint failed: {escape(str(exc))}")
            failed = True
        else:
            assert signed is not None
            _console.print(f"{log.tenant}: checkpoint {signed.number} at entry {signed.seq}")
        finally:
            log.engine.dispose()
    if failed:
        raise typer.Exit(code=1)


@audit_app.command("chain-events")
def chain_events(
    tenant: str = typer.Option("default", "--tenant", "-t", help="Tenant id."),
) -> None:
    """Append the compliance layer's new ``compliance_events`` rows to the tenant's audit log."""
    from compliance.audit.compliance_bridge import chain_compliance_events

    count = chain_compliance_events(_open_log(tenant, nothing="no compliance events, chained 0"))
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
    from klikkflow_pipelines.cli.progress import progress_steps

    if fmt not in EXPORT_FORMATS:
        raise typer.BadParameter(f"use one of {', '.join(EXPORT_FORMATS)}", param_hint="--format")
    log = _open_log(tenant, nothing="no audit log yet, exported 0 entries")
    start, end = _iso(since, "--since"), _iso(until, "--until")
    to_terminal = output is None and sys.stdout.isatty()  # the entries scrolling by are the progress
    opened = output.open("w", encoding="utf-8", newline="") if output is not None else None
    with (
        opened or contextlib.nullcontext(sys.stdout) as handle,
        progress_steps(f"exporting the audit log of {tenant}", enabled=not to_terminal) as steps,
    ):
        count = export_entries(log, _Counted(handle, steps), fmt, start, end)
    _console.print(f"exported {count} entries")


class _Counted:
    """A text stream that counts each write (one per exported entry, and the CSV header) as progress."""

    def __init__(self, out: TextIO, steps: Steps) -> None:
        self._out = out
        self._steps = steps

    def write(self, text: str) -> int:
        """Write ``text`` through and count it."""
        self._steps.advance()
        return self._out.write(text)
