"""`kompeten experiment`: re-run an experiment definition and write its comparison."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from features.cli_support import DataDir, dataset_error_exit, out, progress_bar, require_folder

app = typer.Typer()


@app.command("experiment")
def experiment(
    name: Annotated[
        str,
        typer.Argument(help="baselines, jp-budget, candidates or risk-threshold."),
    ],
    data: DataDir = Path("var/demo"),
    truth: Annotated[
        Path | None, typer.Option("--truth", help="Hidden truth (default: <data>-truth).")
    ] = None,
) -> None:
    """Re-run an MLflow experiment definition (experiments/definitions.py) on a dataset.

    Each variant is an unregistered training run in the MLflow experiment kompeten-exp-NAME;
    the comparison of every variant against the baselines and ablations is written to
    experiments/results/NAME.csv. Experiments never change the champion.
    """
    from experiments.definitions import EXPERIMENTS
    from experiments.runner import run_experiment
    from features.io import DatasetError
    from features.settings import get_settings
    from training_pipeline.run_config import TrainConfig

    if name not in EXPERIMENTS:
        raise typer.BadParameter(
            f"unknown experiment; known: {', '.join(sorted(EXPERIMENTS))}", param_hint="NAME"
        )
    require_folder(data)
    settings = get_settings()
    settings.ensure_home()
    if truth is None:
        sibling = data.parent / f"{data.name}-truth"
        truth = sibling if sibling.is_dir() else None
    base = TrainConfig(data_dir=data, truth_dir=truth)
    try:
        with progress_bar() as progress:
            task = progress.add_task(name, total=None)
            table, path = run_experiment(
                name, base, settings, lambda step, _f: progress.update(task, description=step)
            )
    except DatasetError as exc:
        dataset_error_exit(exc)
        return
    cols = [
        col
        for col in ("variant", "model", "holdout_ndcg_at_10", "true_closure_per_jp",
                    "est_closure_per_jp", "share_reaching_min_jp")
        if col in table.columns
    ]  # fmt: skip
    out.print(table[cols].round(4).to_string(index=False), soft_wrap=True)
    out.print(f"comparison written to {path}")
