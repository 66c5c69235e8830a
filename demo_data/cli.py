"""`kompeten demo-data`: the demo world generator's own command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from features.cli_support import console, print_summary

app = typer.Typer()


@app.command("demo-data")
def demo_data(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the dataset to.")] = Path(
        "var/demo"
    ),
    employees: Annotated[
        int, typer.Option("--employees", min=10, max=5_000_000, help="Number of employees.")
    ] = 400,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same data).")] = 42,
    years: Annotated[
        int, typer.Option("--years", min=1, max=15, help="Years of history to simulate.")
    ] = 4,
    truth_out: Annotated[
        Path | None,
        typer.Option(
            "--truth-out",
            help="Side folder for the hidden truth used only by evaluation "
            "(default: <out>-truth). Models never read it.",
        ),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="csv or parquet.")] = "csv",
) -> None:
    """Write a realistic demo dataset for Kecamatan Kertapati (Kota Palembang).

    Units, the Permenpan RB 38/2017 competencies, positions with required levels, a training
    catalog, and several years of assessments, SKP reviews, enrollments and mentorships. The
    output always passes `kompeten validate`.
    """
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from demo_data import write_demo

    if fmt not in ("csv", "parquet"):
        raise typer.BadParameter("must be csv or parquet", param_hint="--format")
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("demo data", total=1.0)

        def _report(step: str, fraction: float) -> None:
            progress.update(task, description=step, completed=fraction)

        summary = write_demo(
            out_dir,
            n_employees=employees,
            seed=seed,
            years=years,
            truth_dir=truth_out,
            fmt=fmt,
            progress=_report,
        )
        progress.update(task, completed=1.0, description="done")
    shown = {k: v for k, v in summary.items() if k not in ("files", "truth_files")}
    print_summary("Demo dataset written", shown)
