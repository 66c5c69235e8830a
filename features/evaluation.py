"""Evaluation vectors: one row per employee active at `as_of` (SKP, training history, profile).

Participation rates are counted over resolved enrollments (completed, dropped, no-show; an
ongoing one has no outcome yet) and smoothed toward the global rate with a pseudo-count
(`prior_strength`): `(count + k * global_rate) / (n + k)`. An employee with two enrollments
thus sits near the population, one with forty near their own record. Per course mode the prior
is the global rate of that mode.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from features import columns as c
from features.as_of import AsOfLike, day_number, days_since_epoch, tables_as_of

# --- feature column names -----------------------------------------------------------------
SKP_LATEST = "skp_latest"
SKP_LATEST_YEAR = "skp_latest_year"
SKP_MEAN_LAST3 = "skp_mean_last3"
SKP_TREND = "skp_trend"
SKP_N_REVIEWS = "skp_n_reviews"
JP_LAST_12M = "jp_last_12m"
JP_DEFICIT = "jp_deficit"
N_ENROLLMENTS = "n_enrollments"
N_ONGOING = "n_ongoing"
N_RESOLVED = "n_resolved"
N_COMPLETED = "n_completed"
N_DROPPED = "n_dropped"
N_NO_SHOW = "n_no_show"
COMPLETION_RATE = "completion_rate"
DROPOUT_RATE = "dropout_rate"
NO_SHOW_RATE = "no_show_rate"
DAYS_SINCE_LAST_TRAINING = "days_since_last_training"
TENURE_YEARS = "tenure_years"
AGE_YEARS = "age_years"
GOLONGAN_RANK = "golongan_rank"
POSITION_CATEGORY = "position_category"

#: Outcome statuses counted in rates, with the name stem of their rate column.
_OUTCOMES = (("completed", COMPLETION_RATE, N_COMPLETED), ("dropped", DROPOUT_RATE, N_DROPPED),
             ("no_show", NO_SHOW_RATE, N_NO_SHOW))  # fmt: skip
_DAYS_PER_YEAR = 365.25


def mode_column(mode: str, feature: str) -> str:
    """Name of a per-mode column, e.g. `mode_column("e_learning", COMPLETION_RATE)`."""
    return f"{mode}_{feature}"


def status_masks(status: pd.Series, rows: np.ndarray) -> dict[str, np.ndarray]:
    """Boolean mask per enrollment status over the selected `rows` (compared in Arrow, fast)."""
    return {
        value: (status == value).to_numpy(dtype=bool, na_value=False)[rows]
        for value in c.ENROLLMENT_STATUSES
    }


def smoothed_rate(
    count: np.ndarray, n: np.ndarray, prior: np.ndarray | float, k: float
) -> np.ndarray:
    """`(count + k * prior) / (n + k)`; with k = 0 the raw rate (NaN where n = 0)."""
    count = np.asarray(count, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (count + k * np.asarray(prior, dtype=np.float64)) / (n + k)


def evaluation_vectors(
    tables: Mapping[str, pd.DataFrame],
    as_of: AsOfLike,
    *,
    prior_strength: float = 5.0,
    min_jp_per_year: int = c.MIN_JP_PER_YEAR,
    skp_window: int = 3,
) -> pd.DataFrame:
    """One row per employee active at `as_of`, in employees-table order.

    - SKP: latest rating as a score (`RATING_SCORE`, 5 = sangat_baik), its year, mean and
      least-squares slope (score per year) over the last `skp_window` closed years reviewed;
      the slope is NaN with fewer than two reviews.
    - JP: JP of courses completed in the 12 months up to `as_of` (end_date in (as_of - 1 year,
      as_of]) and the deficit against `min_jp_per_year` (PP 11/2017 Pasal 203(4): 20 JP a year).
    - Participation: counts and smoothed completion / drop-out / no-show rates, overall and per
      course mode; enrollment counts; days since the last completed training (NaN if none).
    - Profile: tenure and age in years, grade and category of the position, golongan rank.
    """
    t = tables_as_of(tables, as_of)
    today = day_number(t.as_of)
    employees = t[c.EMPLOYEES]
    nips = pd.Index(employees[c.NIP])

    out: dict[str, object] = {
        c.NIP: employees[c.NIP].array,
        c.UNIT_ID: employees[c.UNIT_ID].array,
        c.POSITION_ID: employees[c.POSITION_ID].array,
    }
    out.update(_profile(t, today))
    out.update(_skp(t[c.PERFORMANCE_REVIEWS], nips, t.as_of.year, skp_window))
    out.update(_training(t, nips, today, t.as_of, prior_strength, min_jp_per_year))

    frame = pd.DataFrame(out)
    active = employees[c.ACTIVE].to_numpy(dtype=bool)
    return frame.loc[active].reset_index(drop=True)


def _profile(t: Mapping[str, pd.DataFrame], today: int) -> dict[str, np.ndarray]:
    employees = t[c.EMPLOYEES]
    positions = t[c.POSITIONS]
    pos = pd.Index(positions[c.POSITION_ID]).get_indexer(employees[c.POSITION_ID])
    known = pos >= 0
    grade = np.where(known, positions[c.GRADE].to_numpy(dtype=np.float64)[pos], np.nan)
    category = pd.Series(positions[c.CATEGORY].array.take(pos, allow_fill=True))
    rank = employees[c.GOLONGAN].map(c.GOLONGAN_RANK).to_numpy(dtype=np.float64, na_value=np.nan)
    return {
        c.GRADE: grade,
        POSITION_CATEGORY: category.array,
        c.GOLONGAN: employees[c.GOLONGAN].array,
        GOLONGAN_RANK: rank,
        TENURE_YEARS: (today - days_since_epoch(employees[c.TMT_CPNS])) / _DAYS_PER_YEAR,
        AGE_YEARS: (today - days_since_epoch(employees[c.BIRTH_DATE])) / _DAYS_PER_YEAR,
    }


def _skp(
    reviews: pd.DataFrame, nips: pd.Index, as_of_year: int, window: int
) -> dict[str, np.ndarray]:
    n_emp = len(nips)
    code = nips.get_indexer(reviews[c.NIP])
    score = reviews[c.RATING].map(c.RATING_SCORE).to_numpy(dtype=np.float64, na_value=np.nan)
    year = reviews[c.YEAR].to_numpy(dtype=np.float64, na_value=np.nan)
    ok = (code >= 0) & ~np.isnan(score) & ~np.isnan(year)
    code, score, year = code[ok], score[ok], year[ok]
    order = np.lexsort((year, code))
    code, score, year = code[order], score[order], year[order]

    # Position of each review counted from its employee's latest one (0 = latest).
    is_last = np.ones(len(code), dtype=bool)
    is_last[:-1] = code[1:] != code[:-1]
    group_end = np.flatnonzero(is_last)
    end_of_row = group_end[np.searchsorted(group_end, np.arange(len(code)))]
    from_end = end_of_row - np.arange(len(code))

    latest = np.full(n_emp, np.nan)
    latest_year = np.full(n_emp, np.nan)
    latest[code[is_last]] = score[is_last]
    latest_year[code[is_last]] = year[is_last]

    recent = from_end < window
    rc, ry, rx = code[recent], score[recent], year[recent] - as_of_year
    n = np.bincount(rc, minlength=n_emp).astype(np.float64)
    sx = np.bincount(rc, rx, minlength=n_emp)
    sy = np.bincount(rc, ry, minlength=n_emp)
    sxy = np.bincount(rc, rx * ry, minlength=n_emp)
    sxx = np.bincount(rc, rx * rx, minlength=n_emp)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = sy / n
        denom = n * sxx - sx * sx
        slope = np.where((n >= 2) & (denom > 0), (n * sxy - sx * sy) / denom, np.nan)
    return {
        SKP_LATEST: latest,
        SKP_LATEST_YEAR: latest_year,
        SKP_MEAN_LAST3: mean,
        SKP_TREND: slope,
        SKP_N_REVIEWS: np.bincount(code, minlength=n_emp),
    }


def _training(
    t: Mapping[str, pd.DataFrame],
    nips: pd.Index,
    today: int,
    as_of: pd.Timestamp,
    k: float,
    min_jp_per_year: int,
) -> dict[str, np.ndarray]:
    n_emp = len(nips)
    enrollments = t[c.ENROLLMENTS]
    courses = t[c.COURSES]
    modes = pd.Index(c.COURSE_MODES)
    n_modes = len(modes)

    code = nips.get_indexer(enrollments[c.NIP])
    course = pd.Index(courses[c.COURSE_ID]).get_indexer(enrollments[c.COURSE_ID])
    ok = (code >= 0) & (course >= 0)
    code, course = code[ok], course[ok]
    is_status = status_masks(enrollments[c.STATUS], ok)
    end_day = days_since_epoch(enrollments[c.END_DATE])[ok]
    mode = modes.get_indexer(courses[c.MODE])[course]
    hours = courses[c.HOURS_JP].to_numpy(dtype=np.float64)[course]

    out: dict[str, np.ndarray] = {
        N_ENROLLMENTS: np.bincount(code, minlength=n_emp),
        N_ONGOING: np.bincount(code[is_status["ongoing"]], minlength=n_emp),
    }
    completed = is_status["completed"]
    year_ago = day_number(as_of - pd.DateOffset(years=1))
    recent = completed & (end_day > year_ago) & (end_day <= today)
    jp = np.bincount(code[recent], hours[recent], minlength=n_emp)
    out[JP_LAST_12M] = jp
    out[JP_DEFICIT] = np.maximum(0.0, min_jp_per_year - jp)

    last_end = np.full(n_emp, np.iinfo(np.int64).min)
    np.maximum.at(last_end, code[completed], end_day[completed])
    has_training = last_end > np.iinfo(np.int64).min
    out[DAYS_SINCE_LAST_TRAINING] = np.where(has_training, today - last_end, np.nan)

    resolved = ~is_status["ongoing"]
    n_res = np.bincount(code[resolved], minlength=n_emp)
    out[N_RESOLVED] = n_res
    mode_ok = resolved & (mode >= 0)
    cell = code[mode_ok] * n_modes + mode[mode_ok]
    n_res_mode = np.bincount(cell, minlength=n_emp * n_modes).reshape(n_emp, n_modes)
    mode_counts: dict[str, np.ndarray] = {N_RESOLVED: n_res_mode}
    mode_rates: dict[str, np.ndarray] = {}
    total_n = n_res.sum()
    for value, rate_col, count_col in _OUTCOMES:
        hit = is_status[value]
        count = np.bincount(code[hit], minlength=n_emp)
        out[count_col] = count
        out[rate_col] = smoothed_rate(count, n_res, count.sum() / total_n if total_n else np.nan, k)
        count_mode = np.bincount(cell[hit[mode_ok]], minlength=n_emp * n_modes)
        count_mode = count_mode.reshape(n_emp, n_modes)
        with np.errstate(invalid="ignore", divide="ignore"):
            prior_mode = count_mode.sum(axis=0) / n_res_mode.sum(axis=0)
        mode_counts[count_col] = count_mode
        mode_rates[rate_col] = smoothed_rate(count_mode, n_res_mode, prior_mode, k)
    for j, m in enumerate(modes):
        out[mode_column(m, N_RESOLVED)] = n_res_mode[:, j]
        for _, rate_col, count_col in _OUTCOMES:
            out[mode_column(m, count_col)] = mode_counts[count_col][:, j]
            out[mode_column(m, rate_col)] = mode_rates[rate_col][:, j]
    return out
