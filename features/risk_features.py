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

#: Smoothed share of resolved enrollments dropped or not attended (1 - completion rate).
PAST_FAIL_RATE = "past_fail_rate"
#: Dropped plus no-show enrollments.
N_FAILED = "n_failed"
#: Label of the risk model.
DROPPED_OR_SKIPPED = "dropped_or_skipped"
N_ENROLLED = "n_enrolled"
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
_MODE_COLUMNS = tuple(
    col
    for m in c.COURSE_MODES
    for col in (ev.mode_column(m, ev.N_RESOLVED), mode_fail_rate(m))
)
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
        ev.mode_column(m, col)
        for m in c.COURSE_MODES
        for col in (ev.N_RESOLVED, ev.DROPOUT_RATE, ev.NO_SHOW_RATE)
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
        out[ev.mode_column(m, ev.N_RESOLVED)] = num(ev.mode_column(m, ev.N_RESOLVED))
        out[mode_fail_rate(m)] = num(ev.mode_column(m, ev.DROPOUT_RATE)) + num(
            ev.mode_column(m, ev.NO_SHOW_RATE)
        )
    category = employees[ev.POSITION_CATEGORY].to_numpy(dtype=object)
    for k in c.POSITION_CATEGORIES:
        out[category_column(k)] = (category == k).astype(np.float64)
    index = pd.Index(employees[c.NIP].to_numpy(dtype=object), name=c.NIP)
    return pd.DataFrame(out, index=index, columns=list(RISK_FEATURE_COLUMNS))


def participation_outcomes(
    tables: Mapping[str, pd.DataFrame], start: AsOfLike, end: AsOfLike
) -> pd.DataFrame:
    """What each employee active at `start` did with courses starting in (start, end].

    One row per employee hired by `start` and active (employees-table order): n_enrolled,
    n_dropped, n_no_show (final statuses, read from the full tables: this is a label, not a
    feature) and dropped_or_skipped (at least one dropped or no-show enrollment).
    """
    start_ts, end_ts = to_as_of(start), to_as_of(end)
    if end_ts <= start_ts:
        raise ValueError("end must be after start")
    employees = tables[c.EMPLOYEES]
    known = (employees[c.TMT_CPNS] <= start_ts).to_numpy(dtype=bool, na_value=False)
    active = employees[c.ACTIVE].to_numpy(dtype=bool) & known
    nips = pd.Index(employees[c.NIP].to_numpy(dtype=object)[active])

    enr = tables[c.ENROLLMENTS]
    in_window = ((enr[c.START_DATE] > start_ts) & (enr[c.START_DATE] <= end_ts)).to_numpy(
        dtype=bool, na_value=False
    )
    code = nips.get_indexer(enr[c.NIP].to_numpy(dtype=object)[in_window])
    status = enr[c.STATUS].to_numpy(dtype=object)[in_window]
    ok = code >= 0
    code, status = code[ok], status[ok]
    n = len(nips)
    n_dropped = np.bincount(code[status == "dropped"], minlength=n)
    n_no_show = np.bincount(code[status == "no_show"], minlength=n)
    return pd.DataFrame(
        {
            c.NIP: nips.to_numpy(),
            N_ENROLLED: np.bincount(code, minlength=n),
            ev.N_DROPPED: n_dropped,
            ev.N_NO_SHOW: n_no_show,
            DROPPED_OR_SKIPPED: (n_dropped + n_no_show) > 0,
        }
    )


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
        keep = (labels[N_ENROLLED].to_numpy(dtype=np.float64, na_value=0.0) >= min_enrolled) & (
            labels[N_ENROLLED].notna().to_numpy()
        )
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
