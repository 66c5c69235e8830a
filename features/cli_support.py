"""What every package's commands share: the consoles, the --data option, dates, progress, and
how a dataset error ends a command (a row-level report and exit 1, never a traceback).

It sits at the bottom (features) because the data contract's commands use it as much as the
training and serving ones; it imports nothing heavy.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

#: Width of tables written to a log file or a pipe (rich would cut them to 80 columns).
LOG_WIDTH = 160


def _console(stderr: bool = False) -> Console:
    made = Console(stderr=stderr)
    if not made.is_terminal and "COLUMNS" not in os.environ:
        made.width = LOG_WIDTH
    return made


#: Messages, progress and errors go to stderr; results (tables, keys, JSON) to stdout.
console = _console(stderr=True)
out = _console()

DataDir = Annotated[
    Path,
    typer.Option(
        "--data",
        help="Dataset folder following the data contract (CSV or Parquet per table).",
        exists=False,
    ),
]


def parse_date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not an ISO date (YYYY-MM-DD)", param_hint=option
        ) from None


def require_folder(path: Path, option: str = "--data") -> None:
    if not path.is_dir():
        raise typer.BadParameter(f"{path} is not a folder", param_hint=option)


def print_summary(title: str, summary: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(title=title, show_header=False)
    for key, value in summary.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items())
        table.add_row(str(key), str(value))
    out.print(table)


def progress_bar() -> Any:
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    return Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


def dataset_error_exit(exc: Exception) -> None:
    """Print a dataset's row-level report and exit 1 (never a traceback)."""
    report = getattr(exc, "report", None)
    if report is not None:
        from features.report import format_report

        console.print(format_report(report), markup=False, highlight=False, soft_wrap=True)
    else:
        console.print(str(exc), markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code=1)
