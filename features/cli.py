"""`kompeten validate`, `import`, `export`: the data contract's own commands (a folder checked;
a folder into the store the service reads; the store back into a folder)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from features.cli_support import DataDir, console, out, print_summary, require_folder

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


def _store() -> Any:
    from features.database import make_engine
    from features.dataset_store import DatasetStore
    from features.settings import get_settings

    store = DatasetStore(make_engine(get_settings().resolved_database_url))
    store.create_schema()
    return store


@app.command("import")
def import_data(
    data: DataDir,
    replace_all: Annotated[
        bool,
        typer.Option(
            "--replace",
            help="The folder is the whole dataset: stored rows it lacks are deleted. "
            "Default: upsert (new rows added, changed rows updated, nothing deleted).",
        ),
    ] = False,
) -> None:
    """Load a contract folder into the store (KOMPETEN_DATABASE_URL) that the service reads.

    The folder is checked merged with what is stored, by the same rules as `kompeten
    validate`, and stored in one transaction or not at all (exit 1 with the report). Rows are
    matched by each table's natural key, so importing the same folder twice stores nothing
    twice. A running service recomputes its plans within KOMPETEN_DATA_POLL_SECONDS.
    """
    from features.report import format_report

    require_folder(data)
    store = _store()
    try:
        with console.status(f"checking and storing {data} …"):
            result = store.import_folder(data, sender="cli:import", replace_all=replace_all)
    finally:
        store.engine.dispose()
    if not result.ok:
        console.print(format_report(result.report), markup=False, highlight=False, soft_wrap=True)
        console.print("Nothing was stored.")
        raise typer.Exit(code=1)
    print_summary(
        "Imported" if result.stored else "Already stored (nothing changed)",
        {
            **{
                name: f"{ch.inserted:,} new, {ch.updated:,} changed, {ch.unchanged:,} same"
                for name, ch in result.changes.items()
            },
            "revision": result.revision,
            "warnings": len(result.report.warnings),
        },
    )


@app.command("export")
def export_data(
    out_dir: Annotated[
        Path, typer.Option("--out", help="Folder to write the stored dataset to.")
    ] = Path("var/export"),
    fmt: Annotated[str, typer.Option("--format", help="csv or parquet.")] = "csv",
) -> None:
    """Write the stored dataset (KOMPETEN_DATABASE_URL) back as a contract folder, e.g. for
    `kompeten train --data` on what HR systems have sent since the last import."""
    if fmt not in ("csv", "parquet"):
        raise typer.BadParameter("csv or parquet", param_hint="--format")
    store = _store()
    try:
        revision = store.revision()
        if revision == 0:
            console.print("The store is empty: run `kompeten import --data DIR` first.")
            raise typer.Exit(code=1)
        paths = store.export_folder(out_dir, fmt)
        counts = store.row_counts()
    finally:
        store.engine.dispose()
    print_summary(
        f"Exported revision {revision} to {out_dir}",
        {**{p.name: f"{counts[p.stem]:,} rows" for p in paths}},
    )
