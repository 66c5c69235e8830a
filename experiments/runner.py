"""Run an experiment definition: one unregistered training run per variant, one table."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from experiments.definitions import EXPERIMENTS
from features.settings import Settings
from training_pipeline.run_config import TrainConfig
from training_pipeline.train import run_training

RESULTS = Path("experiments/results")


def run_experiment(
    name: str,
    base: TrainConfig,
    settings: Settings,
    progress: Callable[[str, float], None] | None = None,
    results_dir: Path = RESULTS,
) -> tuple[pd.DataFrame, Path]:
    """All variants of `name`; returns the comparison (variant x model rows) and its path."""
    if name not in EXPERIMENTS:
        raise KeyError(f"unknown experiment {name!r}; known: {', '.join(sorted(EXPERIMENTS))}")
    experiment = EXPERIMENTS[name]
    exp_settings = settings.model_copy(update={"experiment_name": f"kompeten-exp-{name}"})
    frames = []
    for variant, overrides in experiment.variants.items():
        config = dataclasses.replace(base, register=False, **overrides)
        if progress is not None:
            progress(f"{name}: {variant}", -1.0)
        result = run_training(config, exp_settings, progress)
        table = result.comparison.copy()
        table.insert(0, "variant", variant)
        table.insert(1, "run_id", result.run_id)
        frames.append(table.rename_axis("model").reset_index())
    comparison = pd.concat(frames, ignore_index=True)
    results_dir.mkdir(parents=True, exist_ok=True)
    out = results_dir / f"{name}.csv"
    comparison.round(6).to_csv(out, index=False)
    _log_summary(name, experiment.description, comparison, exp_settings)
    return comparison, out


def _log_summary(name: str, description: str, table: pd.DataFrame, settings: Settings) -> None:
    from training_pipeline import tracking

    with tracking.run(settings, settings.experiment_name, f"{name}-summary", {"kind": "summary"}):
        tracking.log_params({"experiment": name, "description": description[:250]})
        tracking.log_table(table.round(6), f"{name}_comparison.csv")
