"""What ``klikkflow demo`` shows: the progress of its runs and their summary, readable at 80 columns."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from klikkflow_pipelines.cli.narrow import print_table_or_blocks

if TYPE_CHECKING:
    from klikkflow_pipelines.cli.progress import Steps
    from klikkflow_pipelines.demo import JobSummary


def show_run(steps: Steps, job: str) -> None:
    """Count the demo's next run, of ``job`` (with its partition), and show it as the current step."""
    steps.advance()
    steps.step(f"run {steps.done}: {job}")


def print_summary(console: Console, tenant: str, summaries: list[JobSummary]) -> None:
    """One row per run; one block per run when the table does not fit (partition and run ids whole)."""
    headers = ("job", "partition", "status", "assets", "rows", "checks passed", "checks failed", "seconds")
    table = Table(*headers, title=f"KlikkFlow demo — tenant {escape(tenant)}")
    blocks = []
    for s in summaries:
        status = "[green]success[/green]" if s.success else "[red]failed[/red]"
        cells = (str(s.assets), f"{s.rows:,}", str(s.checks_passed), str(s.checks_failed), f"{s.seconds:.1f}")
        table.add_row(escape(s.job), escape(s.partition or ""), status, *cells)
        checks = f"{s.checks_passed} passed, {s.checks_failed} failed"
        fields = [("partition", s.partition or ""), ("run", s.run_id)]
        fields.append(("result", f"{s.assets} assets, {s.rows:,} rows, checks {checks}, {s.seconds:.1f} s"))
        blocks.append((f"[bold]{escape(s.job)}[/] {status}", fields))
    print_table_or_blocks(console, table, blocks)
