"""Terminal output: rich tables for people, JSON for machines."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

# Pipes and CI logs get a wide fixed width instead of rich's 80-column fallback.
console = Console(highlight=False, width=None if sys.stdout.isatty() else 180)


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


def reader_gone() -> None:
    """The reader closed the pipe (`| head`): it has what it wanted. Point stdout at
    /dev/null so Python's exit-time flush does not fail a second time."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
