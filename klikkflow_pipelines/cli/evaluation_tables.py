"""The human output of ``klikkflow classify --evaluate``: rich tables of an :class:`Evaluation`."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from compliance.evaluate import Evaluation, Scores
from klikkflow_pipelines.cli.narrow import print_table_or_blocks


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _label(entity: str | None) -> str:
    return entity or "-"


def print_evaluation(console: Console, result: Evaluation) -> None:
    """Print the per-column, per-entity and confusion tables, then the overall column scores."""
    files = dict.fromkeys(c.file for c in result.columns)
    for file in files:  # one table per file under its whole path; blocks when a table does not fit
        console.print(f"[bold]Columns[/] of {escape(file)}", highlight=False)
        columns = Table()
        for header in ("column", "expected", "predicted", "score", "ok"):
            columns.add_column(header)
        blocks = []
        for c in (c for c in result.columns if c.file == file):
            predicted = _label(c.predicted) + (" (free text)" if c.free_text else "")
            mark = "[green]yes[/green]" if c.ok else "[red]no[/red]"
            cells = (_label(c.expected), predicted, f"{c.score:.2f}")
            columns.add_row(escape(c.column), *cells, mark)
            fields = list(zip(("expected", "predicted", "score"), cells, strict=True))
            blocks.append((f"[bold]{escape(c.column)}[/] ok: {mark}", fields))
        print_table_or_blocks(console, columns, blocks)

    entities = Table(title="Entities")
    for header in ("entity", "precision", "recall", "F1", "support", "tp", "fp", "fn"):
        entities.add_column(header, justify="left" if header == "entity" else "right")
    for entity, scores in result.entities.items():
        entities.add_row(escape(entity), *_score_cells(scores))
    console.print(entities)

    if result.confusions:
        confusions = Table(title="Confusions (expected -> predicted)")
        for header in ("expected", "predicted", "count"):
            confusions.add_column(header)
        for expected, predicted, count in result.confusions:
            confusions.add_row(_label(expected), _label(predicted), str(count))
        console.print(confusions)

    for file, names in result.unlabelled.items():
        console.print(f"not scored (no label): {escape(file)}: {escape(', '.join(names))}", highlight=False)
    o = result.overall
    console.print(f"columns: {len(result.columns)} labelled, {o.support} with PII")
    console.print(
        f"precision {_ratio(o.precision)}, recall {_ratio(o.recall)}, F1 {_ratio(o.f1)} "
        f"(tp {o.tp}, fp {o.fp}, fn {o.fn})",
        highlight=False,
    )


def _score_cells(scores: Scores) -> tuple[str, ...]:
    return (
        _ratio(scores.precision),
        _ratio(scores.recall),
        _ratio(scores.f1),
        str(scores.support),
        str(scores.tp),
        str(scores.fp),
        str(scores.fn),
    )
