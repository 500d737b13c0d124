"""Tables that stay readable in a narrow terminal (80 columns): whole tables when they fit, else blocks.

A Rich table squeezed below its natural width cuts ids and paths with "…". Commands print
their table only when it fits the console whole (:func:`fits`), and otherwise one block per
row (:func:`print_blocks`): a heading line, then ``name: value`` lines that wrap and fold at
the console's width, so every value is printed in full.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.markup import escape
from rich.measure import Measurement
from rich.table import Table

UNLIMITED = 10_000  # a width no table reaches: measures a table's natural width


def fits(console: Console, table: Table) -> bool:
    """True when ``table`` prints on ``console`` at its natural width: no cell wrapped or cut."""
    natural = Measurement.get(console, console.options.update(max_width=UNLIMITED), table)
    return natural.maximum <= console.width


def print_blocks(console: Console, heading: str, fields: Sequence[tuple[str, str]]) -> None:
    """One row as a block: ``heading`` (Rich markup, escaped by the caller), then each non-empty
    field as ``  name: value`` (``value`` plain text, escaped here)."""
    console.print(heading)
    for name, value in fields:
        if value:
            console.print(f"  {name}: {escape(value)}", highlight=False)


def print_table_or_blocks(
    console: Console, table: Table, blocks: Sequence[tuple[str, Sequence[tuple[str, str]]]]
) -> None:
    """Print ``table`` when it fits ``console``, else ``blocks`` (``(heading, fields)`` per row,
    as :func:`print_blocks` takes them) under the table's title."""
    if fits(console, table):
        console.print(table)
        return
    if table.title:
        console.print(table.title, style="bold")
    for heading, fields in blocks:
        print_blocks(console, heading, fields)
