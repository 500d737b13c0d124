"""Progress of long CLI operations, on standard error and only where a person watches it.

When standard error is a terminal, a Rich display (spinner, step, count, elapsed time) runs
there and disappears when the operation ends, leaving the command's own output clean. When it
is not a terminal (a pipe, a log, CI), nothing animated is written: at most a plain line per
step on standard error (``plain=True``), never anything on standard output, so
``--format json`` output stays parseable.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

if TYPE_CHECKING:
    from rich.progress import TaskID


class _Count(ProgressColumn):
    """Items done so far, when there is no known total (blank before the first)."""

    def render(self, task: Task) -> Text:
        return Text(f"{int(task.completed):,}" if task.completed else "")


class Steps:
    """The handle a long operation reports through: name the current step, count finished items."""

    def __init__(self, console: Console, progress: Progress | None, task: TaskID | None, plain: bool) -> None:
        self._console = console
        self._progress = progress
        self._task = task
        self._plain = plain
        self.done = 0
        """Items counted as finished so far."""

    def step(self, description: str) -> None:
        """Show ``description`` as what is happening now (a plain line when not a terminal and plain)."""
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, description=escape(description))
        elif self._plain:
            self._console.print(description, markup=False, highlight=False, soft_wrap=True)

    def advance(self, amount: int = 1) -> None:
        """Count ``amount`` more finished items (shown only on a terminal)."""
        self.done += amount
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task, amount)


@contextmanager
def progress_steps(
    description: str,
    *,
    total: int | None = None,
    plain: bool = False,
    console: Console | None = None,
    enabled: bool = True,
) -> Iterator[Steps]:
    """Show the progress of the operation run in the ``with`` block; ``total`` items when known.

    ``console`` defaults to standard error; ``plain`` prints each step as a line when that is
    not a terminal (for human-only commands such as ``demo``; data commands leave it off).
    ``enabled=False`` shows nothing at all (e.g. while data streams to the same terminal).
    """
    console = console or Console(stderr=True)
    if not enabled or not console.is_terminal:
        steps = Steps(console, None, None, plain and enabled)
        steps.step(description)
        yield steps
        return
    counted = [BarColumn(bar_width=20), MofNCompleteColumn()] if total is not None else [_Count()]
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        *counted,
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task(escape(description), total=total)
        yield Steps(console, progress, task, plain)
