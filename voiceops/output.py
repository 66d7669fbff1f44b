"""Terminal output: rich tables for people, JSON for machines."""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table


class ReaderSafeStdout(io.TextIOBase):
    """Standard output that outlives its reader: once `| head` has closed the pipe, output goes
    to /dev/null and the task carries on (a deploy is not cut short by its log reader)."""

    def write(self, text: str) -> int:
        try:
            return sys.stdout.write(text)
        except BrokenPipeError:
            self._reader_gone()
            return len(text)

    def flush(self) -> None:
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            self._reader_gone()

    def isatty(self) -> bool:
        return sys.stdout.isatty()

    def fileno(self) -> int:
        return sys.stdout.fileno()

    @staticmethod
    def _reader_gone() -> None:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


stdout = ReaderSafeStdout()
# Pipes and CI logs get a wide fixed width instead of rich's 80-column fallback.
console = Console(file=stdout, highlight=False, width=None if sys.stdout.isatty() else 180)


_spinners: list[Progress] = []


@contextmanager
def progress(label: str) -> Iterator[None]:
    """A spinner with the elapsed time while long work runs, at a terminal only: logs and
    pipes get the result lines, not animation."""
    if not console.is_terminal:
        yield
        return
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    # No stdout redirection: the console writes through `stdout` above, which writes to sys.stdout.
    with Progress(
        *columns, console=console, transient=True, redirect_stdout=False, redirect_stderr=False
    ) as bar:
        _spinners.append(bar)
        bar.add_task(label, total=None)
        try:
            yield
        finally:
            _spinners.remove(bar)


def ask(question: str) -> str:
    """A question at the terminal, with any spinner stopped while the user types."""
    for bar in _spinners:
        bar.stop()
    try:
        return console.input(question)
    finally:
        for bar in _spinners:
            bar.start()


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    view = Table(title=title, title_justify="left")
    for column in columns:
        view.add_column(column)
    for row in rows:
        view.add_row(*("-" if cell is None else str(cell) for cell in row))
    console.print(view)


def duration(seconds: int) -> str:
    """4h, 1h30m, 15m, 2m30s, 5s: the largest units, zeros left out."""
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{value}{unit}" for value, unit in ((hours, "h"), (minutes, "m"), (seconds, "s")) if value]
    return "".join(parts) or "0s"


def emit_json(data: Any) -> None:
    """JSON on stdout; missing values are null, never a placeholder string."""
    stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
    stdout.flush()
