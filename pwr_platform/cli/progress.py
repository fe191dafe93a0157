"""Progress for long commands: a bar with ETA when a person watches, plain lines otherwise.

Why two forms: a bar redrawn in place is what a person at a terminal wants, but a log file, a
pipe or a test reads lines, and the lines the commands printed before bars existed are kept
exactly, word for word, whenever output is not a terminal. The bar is drawn on stderr (where
the plain progress lines go), by ``rich``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


def attached() -> bool:
    """True when both stdout and stderr are a terminal: only then are bars drawn."""
    return sys.stdout.isatty() and sys.stderr.isatty()


@dataclass
class Bar:
    """One task of a live rich display; ``print`` writes a line above the bar."""

    progress: Progress
    task: TaskID
    _pending: list[str] = field(default_factory=list)

    def update(self, completed: float | None = None, *, total: float | None = None, note: str = "") -> None:
        self.progress.update(self.task, completed=completed, total=total, note=note)

    def advance(self, amount: float = 1, *, note: str | None = None) -> None:
        fields = {} if note is None else {"note": note}
        self.progress.update(self.task, advance=amount, **fields)

    def echo(self, message: str = "", nl: bool = True) -> None:
        """``click.echo``'s shape: a line printed above the bar; ``nl=False`` keeps it open."""
        self._pending.append(message)
        if nl:
            self.progress.console.print("".join(self._pending), markup=False, highlight=False)
            self._pending.clear()


@contextmanager
def progress_bar(
    description: str, total: float | None, *, count: bool = True, console: Console | None = None
) -> Iterator[Bar]:
    """A bar for ``total`` steps (``count``: shown as done/total, else as a percentage) with the
    elapsed time and the estimated time left, on stderr unless ``console`` says otherwise."""
    columns = [
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn() if count else TaskProgressColumn(),
        TextColumn("{task.fields[note]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    ]
    with Progress(*columns, console=console or Console(stderr=True)) as progress:
        yield Bar(progress, progress.add_task(description, total=total, note=""))
