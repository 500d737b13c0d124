"""The output of ``klikkflow classify``: the column table, ``--explain`` and the ``--policy`` preview.

Column names and values come from the data: every one is escaped
(:func:`rich.markup.escape`) so ``[bold]x[/bold]`` or ``^[a-z]{2}$`` prints as
written. Explanations show only masked samples (see :mod:`compliance.explain`).
Everything stays readable at 80 columns: one short block per column.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console, Group
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from compliance.decisions import ColumnDecision
from compliance.explain import ColumnExplanation, FrameExplanation
from compliance.reports import FrameReport
from klikkflow_pipelines.cli.narrow import print_table_or_blocks


def _pct(share: float) -> str:
    return f"{share:.0%}"


def _label(entity: str | None, free_text: bool) -> str:
    return entity or ("free text" if free_text else "-")


def print_report(
    console: Console, report: FrameReport, path: Path, decisions: dict[str, ColumnDecision] | None
) -> None:
    """The columns of ``klikkflow classify`` under the file's name: a table when it fits the console,
    else one block per column (names whole); with ``decisions``, the policy's action per column."""
    console.print(escape(f"{path} ({report.rows} rows)"), style="bold", highlight=False)
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, padding=(0, 0))
    headers = ["column", "entity", "score", "sensitivity", "other rates"]
    if decisions is not None:
        headers.append("action")
    for header in headers:
        table.add_column(header)
    blocks = []
    for name, col in report.columns.items():
        others = sorted(((e, r) for e, r in col.entities.items() if e != col.entity), key=lambda kv: -kv[1])
        rates = ", ".join(f"{e} {r:.0%}" for e, r in others)
        label = _label(col.entity, col.free_text)
        row = [escape(name), label, f"{col.score:.2f}", col.sensitivity, rates]
        fields = [("other rates", rates)]
        if decisions is not None:
            decision = decisions.get(name)
            row.append(_action(decision))
            fields.append(("action", _plain_action(decision)))
        table.add_row(*row)
        blocks.append((f"[bold]{escape(name)}[/]: {label}, score {col.score:.2f}, {col.sensitivity}", fields))
    print_table_or_blocks(console, table, blocks)


def _plain_action(decision: ColumnDecision | None) -> str:
    if decision is None:
        return "-"
    return decision.action + (f" (rule {decision.rule})" if decision.rule else "")


def _action(decision: ColumnDecision | None) -> str:
    if decision is None:
        return "-"
    return escape(decision.action) + (f"\n[dim]{escape(decision.rule)}[/dim]" if decision.rule else "")


def report_json(report: FrameReport, decisions: dict[str, ColumnDecision] | None) -> dict[str, Any]:
    """``klikkflow classify --format json``; ``decisions`` add ``action`` and ``rule`` per column and leaf."""
    out = report.to_json()
    if decisions is None:
        return out
    for name, column in out["columns"].items():
        decision = decisions.get(name)
        _add_action(column, decision)
        leaves = {d.column: d for d in decision.leaves} if decision is not None else {}
        for path, leaf in column.get("leaves", {}).items():
            _add_action(leaf, leaves.get(path))
    return out


def _add_action(column: dict[str, Any], decision: ColumnDecision | None) -> None:
    column["action"] = decision.action if decision is not None else None
    column["rule"] = decision.rule if decision is not None else None


def print_explanations(console: Console, result: FrameExplanation, path: Path) -> None:
    """One panel per column: the decision, the signals that led there, the thresholds and masked samples."""
    console.print(escape(f"{path} ({result.report.rows} rows)"), style="bold")
    for explanation in result.columns.values():
        console.print(_panel(explanation))


def _panel(explanation: ColumnExplanation) -> Panel:
    parts: list[Any] = [_facts(explanation)]
    for leaf in explanation.leaves:
        parts.append(_panel(leaf))
    title = f"[bold]{escape(explanation.column)}[/bold]"
    return Panel(Group(*parts), title=title, title_align="left", expand=True)


def _facts(e: ColumnExplanation) -> Table:
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column(overflow="fold")
    grid.add_row("decision", _decision(e))
    if e.action is not None:
        grid.add_row("policy", escape(e.action + (f" (rule {e.rule})" if e.rule else " (no rule matches)")))
    grid.add_row("because", escape(e.decided_by))
    if e.values or not (e.leaves or e.unclassifiable):
        grid.add_row("examined", f"{e.values} distinct non-empty values")
    for name in e.names:
        grid.add_row("name", escape(f"'{name.word}' -> {name.entity} ({', '.join(name.languages)})"))
    if e.counter_signal:
        aside = f": {', '.join(e.set_aside)} set aside" if e.set_aside else ""
        grid.add_row("counter", escape(f"'{e.counter_signal}' says it holds something else{aside}"))
    for p in e.patterns:
        check = f"{p.validator} passed {_pct(p.passed)}" if p.validator else f"no validator: {_pct(p.passed)}"
        grid.add_row("pattern", escape(f"{p.entity}: matched {_pct(p.matched)}, {check}"))
    if e.ner is not None:
        grid.add_row("NER", _ner(e))
    for note in e.notes:
        grid.add_row("note", escape(note))
    if e.measures:
        grid.add_row("shapes", ", ".join(f"{k} {_measure(k, v)}" for k, v in e.measures.items()))
    if e.thresholds:
        grid.add_row(
            "thresholds", ", ".join(f"{k} {_pct(v) if v <= 1 else v}" for k, v in e.thresholds.items())
        )
    if e.samples:
        grid.add_row("samples", escape(f"{e.samples_entity}: " + ", ".join(e.samples)))
    return grid


def _decision(e: ColumnExplanation) -> str:
    if e.unclassifiable:
        return f"unclassifiable, {e.sensitivity}"
    if e.free_text:
        carried = ", ".join(f"{k} {_pct(v)}" for k, v in sorted(e.entities.items(), key=lambda kv: -kv[1]))
        return escape(f"free text, {e.sensitivity}; contains {carried or 'nothing'}")
    if e.entity is None:
        return f"none, {e.sensitivity}"
    return f"[bold]{e.entity}[/bold], confidence {e.confidence:.2f}, {e.sensitivity}"


def _ner(e: ColumnExplanation) -> str:
    full = ", ".join(f"{k} {_pct(v)}" for k, v in (e.ner or {}).items())
    contains = ", ".join(f"{k} {_pct(v)}" for k, v in (e.ner_contains or {}).items())
    return f"whole value {full}; contains {contains}"


def _measure(name: str, value: float) -> str:
    return f"{value:.1f}" if name == "words per value" else _pct(value)
