"""Experiment definitions analysts re-run with `kompeten experiment NAME`.

Each experiment is a list of variants of the training configuration. Every variant is one
MLflow run (no registration: experiments never touch the champion) in the MLflow experiment
`kompeten-exp-NAME`; the comparison of all variants and all baselines is written to
`experiments/results/NAME.csv` and logged as an artifact of a summary run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Experiment:
    name: str
    description: str
    #: variant name -> overrides of `training_pipeline.train.TrainConfig`
    variants: dict[str, dict[str, Any]] = field(default_factory=dict)


EXPERIMENTS: dict[str, Experiment] = {
    e.name: e
    for e in (
        Experiment(
            "baselines",
            "The planner against popularity, the content-only rule and implicit ALS, with the "
            "ablations (no collaborative candidates, no risk adaptation).",
            {"default": {}},
        ),
        Experiment(
            "jp-budget",
            "How the JP budget changes gap closure per JP and the share reaching 20 JP.",
            {f"budget_{b}": {"jp_budget": b} for b in (20, 30, 40, 60)},
        ),
        Experiment(
            "candidates",
            "How many candidates per employee the ranker needs.",
            {f"candidates_{n}": {"n_candidates": n, "ablations": False} for n in (20, 50, 100)},
        ),
        Experiment(
            "risk-threshold",
            "When to prefer formats people at risk do complete (blended, coaching, mentoring).",
            {
                f"threshold_{t:.2f}": {"risk_threshold": t, "ablations": False}
                for t in (0.3, 0.5, 0.7)
            },
        ),
    )
}
