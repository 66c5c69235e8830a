"""Training labels: what happened in a window (start, end] after a feature snapshot at `start`.

Features are built at `start`; labels come from the enrollments that started after it and
from what was known about them by `end` (the tables are cut at `end` with
`features.as_of.tables_as_of`, so an enrollment still running at `end` has no outcome yet).
Keeping the two dates apart is what keeps a model trained on (features at start, labels in
(start, end]) free of leakage.

Observed gain of an enrollment on one of its course's competencies: the level on the first
assessed day on or after the enrollment's end date (and by `end`) minus the latest level on or
before `start`, i.e. the change from what the features said at the snapshot. It includes
whatever else happened meanwhile (on-the-job growth, measurement noise); the ranker learns
the expected value of it.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from features import columns as c
from features.as_of import AsOfLike, day_number, days_since_epoch, tables_as_of, to_as_of
from features.competency import assessment_history, level_change

# --- label column names -------------------------------------------------------------------
ENROLLMENT = "enrollment"
COMPLETED = "completed"
LEVEL_BEFORE = "level_before"
LEVEL_AFTER = "level_after"
GAIN = "gain"

OUTCOME_COLUMNS = (
    ENROLLMENT,
    c.NIP,
    c.COURSE_ID,
    c.START_DATE,
    c.END_DATE,
    c.STATUS,
    COMPLETED,
    c.COMPETENCY_ID,
    LEVEL_BEFORE,
    LEVEL_AFTER,
    GAIN,
)

TRAINED = "trained"
CHANGE = "change"

LEVEL_CHANGE_COLUMNS = (c.NIP, c.COMPETENCY_ID, LEVEL_BEFORE, LEVEL_AFTER, CHANGE, TRAINED)

N_ENROLLED = "n_enrolled"
N_COMPLETED = "n_completed"
N_DROPPED = "n_dropped"
N_NO_SHOW = "n_no_show"
N_ONGOING = "n_ongoing"
DROPPED_OR_SKIPPED = "dropped_or_skipped"

PARTICIPATION_COLUMNS = (
    c.NIP,
    N_ENROLLED,
    N_COMPLETED,
    N_DROPPED,
    N_NO_SHOW,
    N_ONGOING,
    DROPPED_OR_SKIPPED,
)

_RESOLVED = ("completed", "dropped", "no_show")


def _window(start: AsOfLike, end: AsOfLike) -> tuple[pd.Timestamp, pd.Timestamp]:
    start_ts, end_ts = to_as_of(start), to_as_of(end)
    if end_ts <= start_ts:
        raise ValueError(f"end ({end_ts.date()}) must be after start ({start_ts.date()})")
    return start_ts, end_ts


def _started_in_window(
    tables: Mapping[str, pd.DataFrame], start: pd.Timestamp, end: pd.Timestamp
) -> tuple[pd.DataFrame, Mapping[str, pd.DataFrame]]:
    """Enrollments started in (start, end] of employees known at `start`, as seen at `end`."""
    t_end = tables_as_of(tables, end)
    employees = t_end[c.EMPLOYEES]
    known = employees.loc[(employees[c.TMT_CPNS] <= start).to_numpy(dtype=bool), c.NIP]
    enr = t_end[c.ENROLLMENTS]
    keep = (enr[c.START_DATE] > start).to_numpy(dtype=bool) & enr[c.NIP].isin(known).to_numpy()
    return enr.loc[keep].reset_index(drop=True), t_end


def enrollment_outcomes(
    tables: Mapping[str, pd.DataFrame], start: AsOfLike, end: AsOfLike
) -> pd.DataFrame:
    """Resolved enrollments that started in (start, end], one row per course competency.

    Columns `OUTCOME_COLUMNS`: `enrollment` numbers the enrollments 0..n-1 (rows of one
    enrollment share it); `completed` is 1 for completed, 0 for dropped or no-show (enrollments
    still ongoing at `end` are left out); `competency_id` is one of the course's competencies
    (NaN, with one row, for a course that lists none); `gain` = `level_after` - `level_before`
    (see the module docstring), NaN when either side was not assessed or the enrollment has no
    end date. Only employees hired by `start` are listed (nobody else has features there).
    """
    start_ts, end_ts = _window(start, end)
    enr, t_end = _started_in_window(tables, start_ts, end_ts)
    enr = enr.loc[enr[c.STATUS].isin(_RESOLVED).to_numpy(dtype=bool)].reset_index(drop=True)
    enr = enr[[c.NIP, c.COURSE_ID, c.START_DATE, c.END_DATE, c.STATUS]].assign(
        **{
            ENROLLMENT: np.arange(len(enr), dtype=np.int64),
            COMPLETED: (enr[c.STATUS] == "completed").to_numpy(dtype=np.int64),
        }
    )
    bands = t_end[c.COURSE_COMPETENCIES][[c.COURSE_ID, c.COMPETENCY_ID]]
    rows = enr.merge(bands, on=c.COURSE_ID, how="left", sort=False)
    rows = rows.sort_values(ENROLLMENT, kind="stable").reset_index(drop=True)

    history = assessment_history(t_end, end_ts)
    keys = history.encode(rows[c.NIP], rows[c.COMPETENCY_ID].fillna(""))
    has_end = rows[c.END_DATE].notna().to_numpy()
    keys = np.where(has_end, keys, -1)
    end_day = np.where(has_end, days_since_epoch(rows[c.END_DATE]), 0)
    start_day = np.full(len(rows), day_number(start_ts), dtype=np.int64)
    change = level_change(history, keys, start_day, end_day, window_days=None)
    rows[LEVEL_BEFORE] = change["level_before"].to_numpy()
    rows[LEVEL_AFTER] = change["level_after"].to_numpy()
    rows[GAIN] = change["change"].to_numpy()
    return rows[list(OUTCOME_COLUMNS)]


def level_changes(
    tables: Mapping[str, pd.DataFrame], start: AsOfLike, end: AsOfLike
) -> pd.DataFrame:
    """How assessed levels moved in (start, end], with or without training: the baseline.

    One row per (employee, competency) assessed on or before `start` and again in
    (start, end]: `level_before` (the latest on or before start), `level_after` (the first
    after it), their difference `change`, and `trained`: a completed enrollment on a course
    covering the competency started in (start, day of level_after]. The untrained rows show
    what a level does without a course (drift, regression to the mean of noisy measurements),
    which the ranker subtracts from the observed gains of the trained.
    """
    start_ts, end_ts = _window(start, end)
    enr, t_end = _started_in_window(tables, start_ts, end_ts)
    history = assessment_history(t_end, end_ts)
    key, day, level = history.key, history.day, history.level
    s = day_number(start_ts)
    before = day <= s
    same_next = np.zeros(len(key), dtype=bool)
    same_next[:-1] = key[1:] == key[:-1]
    next_before = np.zeros(len(key), dtype=bool)
    next_before[:-1] = before[1:]
    last_before = np.flatnonzero(before & ~(same_next & next_before))
    has_after = same_next[last_before]
    i_before = last_before[has_after]
    i_after = i_before + 1
    pair_key = key[i_before]
    after_day = day[i_after]

    done = enr.loc[(enr[c.STATUS] == "completed").to_numpy(dtype=bool)]
    bands = t_end[c.COURSE_COMPETENCIES][[c.COURSE_ID, c.COMPETENCY_ID]]
    trained_rows = done[[c.NIP, c.COURSE_ID, c.START_DATE]].merge(bands, on=c.COURSE_ID)
    t_key = history.encode(trained_rows[c.NIP], trained_rows[c.COMPETENCY_ID])
    t_day = days_since_epoch(trained_rows[c.START_DATE])
    ok = t_key >= 0
    t_key, t_day = t_key[ok], t_day[ok]
    # Earliest training start per key, compared with that key's after day.
    first_day = pd.Series(t_day).groupby(t_key).min()
    at = pd.Index(first_day.index).get_indexer(pair_key)
    first = np.where(at >= 0, first_day.to_numpy()[np.maximum(at, 0)], np.iinfo(np.int64).max)
    trained = (at >= 0) & (first <= after_day)

    n_comp = history.n_competencies
    return pd.DataFrame(
        {
            c.NIP: history.nips.take(pair_key // n_comp).array,
            c.COMPETENCY_ID: history.competency_ids.take(pair_key % n_comp).array,
            LEVEL_BEFORE: level[i_before],
            LEVEL_AFTER: level[i_after],
            CHANGE: level[i_after] - level[i_before],
            TRAINED: trained,
        },
        columns=list(LEVEL_CHANGE_COLUMNS),
    )


def participation_outcomes(
    tables: Mapping[str, pd.DataFrame], start: AsOfLike, end: AsOfLike
) -> pd.DataFrame:
    """Per employee active at `start` (employees-table order): enrollments started in (start, end].

    Counts by status as known at `end` (`n_ongoing` = not resolved by then);
    `dropped_or_skipped` is True when at least one enrollment was dropped or a no-show.
    """
    start_ts, end_ts = _window(start, end)
    t_start = tables_as_of(tables, start_ts)
    employees = t_start[c.EMPLOYEES]
    active = employees.loc[employees[c.ACTIVE].to_numpy(dtype=bool), c.NIP].reset_index(drop=True)
    nips = pd.Index(active)
    enr, _ = _started_in_window(tables, start_ts, end_ts)
    code = nips.get_indexer(enr[c.NIP])
    ok = code >= 0
    code = code[ok]
    status = enr[c.STATUS].to_numpy(dtype=object)[ok]
    n = len(nips)

    def count(value: str) -> np.ndarray:
        return np.bincount(code[status == value], minlength=n).astype(np.int64)

    dropped, no_show = count("dropped"), count("no_show")
    return pd.DataFrame(
        {
            c.NIP: active.array,
            N_ENROLLED: np.bincount(code, minlength=n).astype(np.int64),
            N_COMPLETED: count("completed"),
            N_DROPPED: dropped,
            N_NO_SHOW: no_show,
            N_ONGOING: count("ongoing"),
            DROPPED_OR_SKIPPED: (dropped + no_show) > 0,
        },
        columns=list(PARTICIPATION_COLUMNS),
    )
