"""`kompeten validate`: the data contract's own command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from features.cli_support import DataDir, console, out, require_folder

app = typer.Typer()


@app.command("validate")
def validate(
    data: DataDir,
    report: Annotated[
        Path | None,
        typer.Option("--report", help="Also write every violation to this CSV file."),
    ] = None,
    max_rows: Annotated[
        int, typer.Option("--max-rows", min=1, help="Violations to list before summarising.")
    ] = 50,
) -> None:
    """Check a dataset folder against the data contract.

    Exit 0 with row counts per table when every rule holds; exit 1 with a report naming file,
    line, column, value and rule for each violation (capped at --max-rows, then a count).
    """
    from features.io import validate_dataset
    from features.report import format_report, report_to_rows

    require_folder(data)
    result = validate_dataset(data)
    if report is not None:
        import csv

        rows = report_to_rows(result)
        report.parent.mkdir(parents=True, exist_ok=True)
        with report.open("w", newline="", encoding="utf-8") as fh:
            fieldnames = list(rows[0].keys()) if rows else ["file", "line", "column", "rule"]
            writer = csv.DictWriter(fh, fieldnames=fieldnames)
            writer.writeheader()
            writer.writerows(rows)
    text = format_report(result, max_rows=max_rows)
    if result.ok:
        out.print(text, markup=False, highlight=False, soft_wrap=True)
        return
    console.print(text, markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code=1)
