"""Evaluation metrics for the time split: ranking, coverage, risk calibration, gap closure.

Every function is pure: it takes DataFrames or arrays and returns numbers (or a small frame for a
reliability plot). Column names are parameters with ``col_*`` defaults from
:mod:`features.columns`, in the style of recommenders' ``python_evaluation``.

This module holds gap closure per JP and the bootstrap interval, and is the one place callers
import every metric from: the ranking metrics live in `model.ranking_metrics`, the risk
metrics in `model.risk_metrics`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from features.columns import COMPETENCY_ID, COURSE_ID, HOURS_JP, NIP
from model.ranking_metrics import (
    require_columns,
)

DEFAULT_GAIN_COL = "gain"


DEFAULT_GAP_COL = "gap"


def gap_closure_per_jp(
    paths: pd.DataFrame,
    expected_gain: pd.DataFrame,
    gaps: pd.DataFrame,
    col_user: str = NIP,
    col_item: str = COURSE_ID,
    col_hours: str = HOURS_JP,
    col_competency: str = COMPETENCY_ID,
    col_gain: str = DEFAULT_GAIN_COL,
    col_gap: str = DEFAULT_GAP_COL,
) -> dict[str, float]:
    """How much competency gap the training paths are expected to close, per JP spent.

    ``paths`` lists the courses assigned to each employee with their hours (JP); a course listed
    twice is paid twice. ``expected_gain`` is the level gain the caller expects each employee to
    make on each competency from their path (from a model, or the demo generator's hidden
    truth); rows of the same (employee, competency) are summed, so per-course gains can be
    passed as they are. ``gaps`` holds one row per (employee, competency): required level minus
    current level; non-positive gaps mean nothing to close.

    Closure of (employee, competency) = min(max(gain, 0), max(gap, 0)): no credit for growing
    past the requirement nor for gains on competencies without a gap. Returns

    * ``total_closure``: sum of closures (competency levels);
    * ``total_jp``: sum of path hours;
    * ``closure_per_jp``: total_closure / total_jp (NaN when no hours);
    * ``mean_closure_per_employee``: total closure / employees with a positive gap, counting
      employees without a path as 0, so unserved employees lower the mean (NaN when nobody
      has a gap);
    * ``share_of_gap_closed``: total closure / total positive gap (NaN when no gap);
    * ``n_employees_with_gap`` and ``n_employees_with_path``.
    """
    require_columns(paths, (col_user, col_item, col_hours), "paths")
    require_columns(expected_gain, (col_user, col_competency, col_gain), "expected_gain")
    require_columns(gaps, (col_user, col_competency, col_gap), "gaps")
    if gaps.duplicated([col_user, col_competency]).any():
        raise ValueError("gaps has more than one row per (employee, competency)")
    hours = paths[col_hours].to_numpy(dtype=np.float64, na_value=np.nan)
    if np.isnan(hours).any() or (hours < 0).any():
        raise ValueError("paths hours must be non-negative and not missing")
    if expected_gain[col_gain].isna().any() or gaps[col_gap].isna().any():
        raise ValueError("expected_gain and gaps must not contain missing values")

    open_gaps = gaps.loc[gaps[col_gap] > 0, [col_user, col_competency, col_gap]]
    gain = (
        expected_gain.groupby([col_user, col_competency], sort=False)[col_gain]
        .sum()
        .clip(lower=0.0)
        .rename("_gain")
        .reset_index()
    )
    joined = open_gaps.merge(gain, on=[col_user, col_competency], how="left")
    closure = np.minimum(
        joined["_gain"].fillna(0.0).to_numpy(dtype=np.float64),
        joined[col_gap].to_numpy(dtype=np.float64),
    )
    total_closure = float(closure.sum())
    total_gap = float(joined[col_gap].sum())
    total_jp = float(hours.sum())
    n_with_gap = int(open_gaps[col_user].nunique())
    return {
        "total_closure": total_closure,
        "total_jp": total_jp,
        "closure_per_jp": total_closure / total_jp if total_jp > 0 else math.nan,
        "mean_closure_per_employee": total_closure / n_with_gap if n_with_gap else math.nan,
        "share_of_gap_closed": total_closure / total_gap if total_gap > 0 else math.nan,
        "n_employees_with_gap": float(n_with_gap),
        "n_employees_with_path": float(paths[col_user].nunique()),
    }


def bootstrap_mean_ci(
    values: np.ndarray | Sequence[float],
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """Mean of per-unit values and its percentile bootstrap interval (resampling the units).

    Units are employees when judging plans: people, not courses, are what varies between the
    holdout and the next year. Returns (mean, low, high); NaNs for no values.

    >>> bootstrap_mean_ci([1.0, 1.0, 1.0])
    (1.0, 1.0, 1.0)
    """
    x = np.asarray(values, dtype=np.float64)
    if not 0 < level < 1 or n_boot < 1:
        raise ValueError("level must be in (0, 1) and n_boot >= 1")
    if len(x) == 0:
        return math.nan, math.nan, math.nan
    rng = np.random.default_rng(seed)
    means = np.empty(n_boot)
    for lo in range(0, n_boot, 100):  # blocks bound the memory at 100 x n
        hi = min(n_boot, lo + 100)
        means[lo:hi] = x[rng.integers(0, len(x), size=(hi - lo, len(x)))].mean(axis=1)
    tail = (1 - level) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return float(x.mean()), float(low), float(high)
