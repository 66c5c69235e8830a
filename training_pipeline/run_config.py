"""What one training run is asked to do (`TrainConfig`, defaults from Settings) and what it
returns (`TrainResult`), plus the progress callback every stage reports to.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from features import columns as c

Progress = Callable[[str, float], None]


@dataclass
class TrainConfig:
    """What one training run does; defaults come from Settings."""

    data_dir: Path
    as_of: pd.Timestamp | None = None
    truth_dir: Path | None = None
    jp_budget: int = 40
    min_jp: int = c.MIN_JP_PER_YEAR
    mentor_capacity: int = 3
    risk_threshold: float = 0.5
    n_candidates: int = 50
    seed: int = 0
    register: bool = True
    gate_metric: str = "holdout_est_gap_closed_per_employee"
    gate_tolerance: float = 0.0
    baselines: tuple[str, ...] = ("popularity", "content", "als")
    ablations: bool = True
    #: Evaluation uses whole planning partitions (kecamatan/dinas) up to this many employees:
    #: metrics on ~5,000 people are precise enough, and training time stays flat as the
    #: organisation grows. Fitting always uses everyone.
    eval_max_employees: int = 5000


@dataclass
class TrainResult:
    run_id: str | None
    version: str | None
    promoted: bool
    gate_reason: str
    metrics: dict[str, float]
    comparison: pd.DataFrame
    timings: dict[str, float] = field(default_factory=dict)


def report_step(progress: Progress | None, name: str, fraction: float | None = None) -> None:
    if progress is not None:
        progress(name, -1.0 if fraction is None else fraction)
