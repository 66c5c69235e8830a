"""Participation-risk features (one numeric row per employee) and the training frame of the risk
model: features at a snapshot date d, label "dropped or skipped a course in (d, d + horizon]".

The features read only columns of `features.plan_input.EmployeeView.employees` (the evaluation
vector), so training and serving compute them the same way. Counts, smoothed rates (see
`features.evaluation`), SKP and profile are passed through; per course mode the drop-out and
no-show rates are summed into one "did not finish" rate, and the position category is one-hot
over the contract's fixed categories so the columns never depend on the data.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from features import columns as c
from features import evaluation as ev
from features.as_of import AsOfLike, to_as_of
from features.labels import DROPPED_OR_SKIPPED, N_ENROLLED, participation_outcomes

#: Smoothed share of resolved enrollments dropped or not attended (1 - completion rate).
PAST_FAIL_RATE = "past_fail_rate"
#: Dropped plus no-show enrollments.
N_FAILED = "n_failed"
#: Level of the stacked training frame's index holding the snapshot date.
SNAPSHOT = "snapshot"


def mode_fail_rate(mode: str) -> str:
    """Name of the per-mode "did not finish" rate column, e.g. ``e_learning_fail_rate``."""
    return f"{mode}_fail_rate"


def category_column(category: str) -> str:
    """Name of the one-hot column of a position category, e.g. ``category_pelaksana``."""
    return f"category_{category}"


_PASSED = (
    ev.N_ENROLLMENTS,
    ev.N_RESOLVED,
    ev.N_ONGOING,
    ev.N_COMPLETED,
    ev.N_DROPPED,
    ev.N_NO_SHOW,
    ev.DROPOUT_RATE,
    ev.NO_SHOW_RATE,
    ev.SKP_LATEST,
    ev.SKP_MEAN_LAST3,
    ev.SKP_TREND,
    ev.SKP_N_REVIEWS,
    ev.JP_LAST_12M,
    ev.JP_DEFICIT,
    ev.DAYS_SINCE_LAST_TRAINING,
    ev.TENURE_YEARS,
    ev.AGE_YEARS,
    c.GRADE,
    ev.GOLONGAN_RANK,
)
_MODE_COLUMNS = tuple(mode_fail_rate(m) for m in c.COURSE_MODES)
_CATEGORY_COLUMNS = tuple(category_column(k) for k in c.POSITION_CATEGORIES)

#: Every risk feature, in the order of the model's columns.
RISK_FEATURE_COLUMNS: tuple[str, ...] = (
    (PAST_FAIL_RATE, N_FAILED) + _PASSED + _MODE_COLUMNS + _CATEGORY_COLUMNS
)
#: Columns of the employees frame the features need.
REQUIRED_COLUMNS: tuple[str, ...] = (
    (c.NIP, ev.COMPLETION_RATE, ev.POSITION_CATEGORY)
    + _PASSED
    + tuple(
        ev.mode_column(m, col) for m in c.COURSE_MODES for col in (ev.DROPOUT_RATE, ev.NO_SHOW_RATE)
    )
)


def risk_features(employees: pd.DataFrame) -> pd.DataFrame:
    """One float64 row per employee, indexed by nip, columns `RISK_FEATURE_COLUMNS`.

    `employees` is `EmployeeView.employees` or `features.evaluation.evaluation_vectors` output.
    Missing values stay NaN (no SKP yet, never trained); the model decides how to treat them.
    """
    missing = [col for col in REQUIRED_COLUMNS if col not in employees.columns]
    if missing:
        raise KeyError(f"employees frame lacks risk-feature inputs: {', '.join(missing)}")

    def num(col: str) -> np.ndarray:
        return employees[col].to_numpy(dtype=np.float64, na_value=np.nan)

    out: dict[str, np.ndarray] = {
        PAST_FAIL_RATE: 1.0 - num(ev.COMPLETION_RATE),
        N_FAILED: num(ev.N_DROPPED) + num(ev.N_NO_SHOW),
    }
    for col in _PASSED:
        out[col] = num(col)
    for m in c.COURSE_MODES:
        out[mode_fail_rate(m)] = num(ev.mode_column(m, ev.DROPOUT_RATE)) + num(
            ev.mode_column(m, ev.NO_SHOW_RATE)
        )
    category = employees[ev.POSITION_CATEGORY].to_numpy(dtype=object)
    for k in c.POSITION_CATEGORIES:
        out[category_column(k)] = (category == k).astype(np.float64)
    index = pd.Index(employees[c.NIP].to_numpy(dtype=object), name=c.NIP)
    return pd.DataFrame(out, index=index, columns=list(RISK_FEATURE_COLUMNS))


def risk_training_frame(
    tables: Mapping[str, pd.DataFrame],
    snapshot_dates: Iterable[AsOfLike],
    *,
    horizon_days: int = 365,
    min_enrolled: int = 1,
) -> tuple[pd.DataFrame, pd.Series]:
    """Stacked snapshots: X = `risk_features` at each date d, y = dropped_or_skipped in
    (d, d + horizon_days].

    Only employees with at least `min_enrolled` enrollments in the window are kept: the model
    answers "if enrolled, will they drop or skip?", not "will they enroll?" (with 0, people who
    took no course count as not dropping). X is indexed by (snapshot, nip); y shares the index.
    """
    xs: list[pd.DataFrame] = []
    ys: list[pd.Series] = []
    for date in snapshot_dates:
        d = to_as_of(date)
        features = risk_features(ev.evaluation_vectors(tables, d))
        labels = participation_outcomes(tables, d, d + pd.Timedelta(days=horizon_days))
        labels = labels.set_index(c.NIP).reindex(features.index)
        keep = labels[N_ENROLLED].to_numpy(dtype=np.float64, na_value=-1.0) >= min_enrolled
        x = features.loc[keep]
        x.index = pd.MultiIndex.from_arrays(
            [np.full(len(x), d), x.index.to_numpy()], names=[SNAPSHOT, c.NIP]
        )
        xs.append(x)
        ys.append(
            pd.Series(
                labels.loc[keep, DROPPED_OR_SKIPPED].to_numpy(dtype=bool),
                index=x.index,
                name=DROPPED_OR_SKIPPED,
            )
        )
    if not xs:
        raise ValueError("no snapshot dates given")
    return pd.concat(xs), pd.concat(ys)


def training_snapshots(
    cutoff: AsOfLike,
    *,
    horizon_days: int = 365,
    step_months: int = 3,
    n_snapshots: int = 8,
    earliest: AsOfLike | None = None,
) -> list[pd.Timestamp]:
    """Snapshot dates whose label window ends by `cutoff`, oldest first.

    The last is `cutoff - horizon_days`; the others step back `step_months` at a time, at most
    `n_snapshots` in all and none before `earliest` (e.g. half a year after the history
    starts, so the first snapshot has some history to describe).
    """
    if n_snapshots < 1 or step_months < 1 or horizon_days < 1:
        raise ValueError("n_snapshots, step_months and horizon_days must be positive")
    last = to_as_of(cutoff) - pd.Timedelta(days=horizon_days)
    floor = to_as_of(earliest) if earliest is not None else None
    dates = [last - pd.DateOffset(months=step_months * i) for i in range(n_snapshots)]
    return sorted(d for d in dates if floor is None or d >= floor)
