"""Terminal output: rich tables for people, JSON for machines."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

# Pipes and CI logs get a wide fixed width instead of rich's 80-column fallback.
console = Console(highlight=False, width=None if sys.stdout.isatty() else 180)


@contextmanager
def progress(label: str) -> Iterator[None]:
    """A spinner with the elapsed time while long work runs, at a terminal only: logs and
    pipes get the result lines, not animation."""
    if not console.is_terminal:
        yield
        return
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        bar.add_task(label, total=None)
        yield


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    view = Table(title=title, title_justify="left")
    for column in columns:
        view.add_column(column)
    for row in rows:
        view.add_row(*("-" if cell is None else str(cell) for cell in row))
    console.print(view)


def duration(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    if hours and rest:
        return f"{hours}h{rest:02d}m"
    return f"{hours}h" if hours else f"{rest}m"


def emit_json(data: Any) -> None:
    """JSON on stdout; missing values are null, never a placeholder string."""
    json.dump(data, sys.stdout, indent=2, sort_keys=True, default=str)
    sys.stdout.write("\n")
    sys.stdout.flush()
