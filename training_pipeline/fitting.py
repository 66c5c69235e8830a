"""Fit the planner's parts on the snapshots before a date: participation risk, mentor scorer,
recommender, bundled as one `model.planner.DevelopmentPlanner`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from features.build import build_features
from training_pipeline.run_config import Progress, TrainConfig, report_step
from training_pipeline.time_split import HORIZON_DAYS, earliest_date, risk_snapshots, snapshot_dates

RISK_FRAMES: dict[tuple[int, tuple], tuple[Any, pd.DataFrame, pd.Series]] = {}


def risk_frame(tables: Mapping[str, pd.DataFrame], dates: list) -> tuple[pd.DataFrame, pd.Series]:
    """`risk_training_frame`, remembered for the last few date sets of the same tables.

    The holdout evaluation needs the training frame the risk model was fitted on; building it
    twice costs a minute at 100,000 employees.
    """
    from features.risk_features import risk_training_frame

    key = (id(tables), tuple(dates))
    hit = RISK_FRAMES.get(key)
    if hit is not None and hit[0] is tables:
        return hit[1], hit[2]
    X, y = risk_training_frame(tables, dates, horizon_days=HORIZON_DAYS)
    if len(RISK_FRAMES) >= 3:
        RISK_FRAMES.clear()
    RISK_FRAMES[key] = (tables, X, y)
    return X, y


def fit_risk(tables: Mapping[str, pd.DataFrame], as_of: pd.Timestamp, seed: int) -> Any:
    """Participation-risk model on stacked snapshots (None when there is no signal)."""
    from model.risk import ParticipationRisk

    dates = risk_snapshots(tables, as_of)
    if not dates:
        return None
    X, y = risk_frame(tables, dates)
    y_arr = np.asarray(y, dtype=np.int64)
    if len(y_arr) < 20 or y_arr.min() == y_arr.max():
        return None
    return ParticipationRisk(random_state=seed).fit(X, y_arr)


def fit_mentor_scorer(
    tables: Mapping[str, pd.DataFrame], dates: list[pd.Timestamp], seed: int
) -> Any:
    """Mentor pair scorer; falls back to its documented rule when history is too thin."""
    from model.mentor_scorer import fit_mentor_scorer as _fit

    return _fit(tables, dates, horizon_days=HORIZON_DAYS, random_state=seed)


def fit_planner(
    tables: Mapping[str, pd.DataFrame],
    as_of: pd.Timestamp,
    config: TrainConfig,
    *,
    use_collaborative: bool = True,
    risk_adaptation: bool = True,
    progress: Progress | None = None,
) -> Any:
    """A DevelopmentPlanner fitted only on what was known by `as_of`."""
    from features.course_outcomes import untrained_level_changes
    from model.benefit import fit_level_drift
    from model.planner import DevelopmentPlanner
    from model.recommender import TrainingPathRecommender

    start = earliest_date(tables)
    dates = snapshot_dates(start, as_of)
    if not dates:
        raise ValueError(
            f"not enough history before {as_of.date()} for a time split: need more than "
            f"{HORIZON_DAYS + 180} days of assessments and enrollments"
        )
    report_step(progress, f"recommender ({len(dates)} snapshots)")
    recommender = TrainingPathRecommender(
        n_candidates=config.n_candidates,
        use_collaborative=use_collaborative,
        random_state=config.seed,
    ).fit(tables, dates, horizon_days=HORIZON_DAYS, course_features=build_features(tables, as_of))
    report_step(progress, "participation risk")
    risk = fit_risk(tables, as_of, config.seed)
    report_step(progress, "mentor scorer")
    mentor = fit_mentor_scorer(tables, dates, config.seed)
    return DevelopmentPlanner(
        recommender,
        risk,
        mentor,
        jp_budget=config.jp_budget,
        min_jp=config.min_jp,
        risk_threshold=config.risk_threshold,
        mentor_capacity=config.mentor_capacity,
        risk_adaptation=risk_adaptation,
        level_drift=fit_level_drift(untrained_level_changes(tables, as_of)),
    )
