"""Numeric features of (employee, course) pairs, and of (employee, course, competency) bands.

The ranker sees a pair through three blocks: the course (length, mode, provider kind, what
history says about it: completion rate, post-test score and its value added
(`course_score_effects`, given as the `SCORE_EFFECT` column of the courses frame), shrunk
observed effect, popularity),
the employee (overall and SAME-MODE completion / drop-out / no-show rates, SKP, tenure, grade,
JP in the last 12 months) and how the course's competency bands fit the employee (level
relative to each band, gap on the band's competency, required or not). The gain model adds one
row per band of the pair with that band's own fit and observed effect.

Levels of never-assessed competencies count from `MIN_LEVEL_VALUE` for the fit (as the gaps in
`features.competency` do), while `band_assessed` tells the model the level is assumed.

Everything is numpy over integer codes: `EmployeeArrays` (from an `EmployeeView`) and
`CourseKnowledge` (`features.course_knowledge`, from `FeatureSet.courses` /
`course_competencies`) are built once, then
`pair_matrix` gathers the features of any (employee index, course index) pairs. Both hold only
what was known at their `as_of`. `pair_features` / `band_features` are the labelled-frame
versions for exploration and tests. The post-test value added lives in
`features.course_score_effects`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from features import columns as c
from features import evaluation as ev
from features.competency import CURRENT_LEVEL, GAP, REQUIRED, STALENESS_DAYS
from features.course_knowledge import (
    COURSE_FEATURES,
    CourseKnowledge,
    _columns,
    _one_hot,
)
from features.level_estimates import LEVEL_MEAN
from features.plan_input import EmployeeView

#: A participant half a level below a band's min_level can still follow the course.
BAND_TOLERANCE = 0.5
#: Share of a band's gain credited to a participant below it (the content rule's own factor,
#: `model.baselines.ContentRuleRecommender`): the course assumes an entry level they lack.
UNDERPREPARED_FACTOR = 0.5
_EMPLOYEE_SOURCE = (
    (ev.COMPLETION_RATE, "emp_completion_rate"),
    (ev.DROPOUT_RATE, "emp_dropout_rate"),
    (ev.NO_SHOW_RATE, "emp_no_show_rate"),
    (ev.N_RESOLVED, "emp_n_resolved"),
    (ev.N_ONGOING, "emp_n_ongoing"),
    (ev.SKP_LATEST, "emp_skp_latest"),
    (ev.SKP_MEAN_LAST3, "emp_skp_mean_last3"),
    (ev.SKP_TREND, "emp_skp_trend"),
    (ev.TENURE_YEARS, "emp_tenure_years"),
    (ev.AGE_YEARS, "emp_age_years"),
    (c.GRADE, "emp_grade"),
    (ev.GOLONGAN_RANK, "emp_golongan_rank"),
    (ev.JP_LAST_12M, "emp_jp_last_12m"),
    (ev.JP_DEFICIT, "emp_jp_deficit"),
    (ev.DAYS_SINCE_LAST_TRAINING, "emp_days_since_last_training"),
)
EMPLOYEE_FEATURES = tuple(name for _, name in _EMPLOYEE_SOURCE) + tuple(
    f"emp_category_{cat}" for cat in c.POSITION_CATEGORIES
)
#: Per-mode rates of the employee, read for the course's own mode.
_MODE_SOURCE = (ev.COMPLETION_RATE, ev.DROPOUT_RATE, ev.NO_SHOW_RATE, ev.N_RESOLVED)
MODE_FEATURES = (
    "mode_completion_rate",
    "mode_dropout_rate",
    "mode_no_show_rate",
    "mode_n_resolved",
    "mode_completion_vs_overall",
)
FIT_FEATURES = (
    "fit_n_gap_bands",
    "fit_gap_sum",
    "fit_closure",
    "fit_level_minus_min",
    "fit_target_minus_level",
    "fit_in_band_share",
    "fit_required_share",
    "fit_assessed_share",
    "fit_effect_on_gap",
)
#: Columns of `pair_matrix(...).X` (the completion model's input), in order.
PAIR_FEATURES = COURSE_FEATURES + EMPLOYEE_FEATURES + MODE_FEATURES + FIT_FEATURES
#: Band-only columns; the gain model's input is `PAIR_FEATURES + BAND_FEATURES`.
BAND_FEATURES = (
    "band_min_level",
    "band_target_level",
    "band_current_level",
    "band_assessed",
    "band_level_minus_min",
    "band_target_minus_level",
    "band_in_band",
    "band_gap",
    "band_required",
    "band_required_level",
    "band_staleness_days",
    "band_effect_shrunk",
    "band_effect_mean",
    "band_n_effect",
    "band_level_mean",
)
GAIN_FEATURES = PAIR_FEATURES + BAND_FEATURES
#: The employee's state on one competency, course aside: the level-change baseline's input
#: (`level_matrix`); a subset of `GAIN_FEATURES`, so band rows carry it too.
LEVEL_FEATURES = EMPLOYEE_FEATURES + (
    "band_current_level",
    "band_required_level",
    "band_gap",
    "band_staleness_days",
)


# --- employees -------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class EmployeeArrays:
    """An `EmployeeView` as arrays: rows follow `view.employees`, columns `competency_ids`.

    `current` is NaN where never assessed, `required` NaN where not required, `gap` 0 where
    there is none. `mode_rates[i, m]` holds employee i's (completion, drop-out, no-show rate,
    resolved count) in course mode m (`COURSE_MODES` order).
    """

    nips: pd.Index
    competency_ids: pd.Index
    features: np.ndarray
    mode_rates: np.ndarray
    current: np.ndarray
    required: np.ndarray
    gap: np.ndarray
    staleness: np.ndarray
    #: Posterior level (`features.level_estimates`: method-debiased, all readings, the
    #: position's requirement as prior); NaN where the view does not carry it.
    level_mean: np.ndarray | None = None

    @classmethod
    def from_view(cls, view: EmployeeView, competency_ids: Sequence[str] | pd.Index):
        emp = view.employees
        nips = pd.Index(emp[c.NIP].astype(str).to_numpy(dtype=object))
        comp_index = pd.Index(competency_ids, dtype=object)
        n, k = len(nips), len(comp_index)
        category = (
            emp[ev.POSITION_CATEGORY].to_numpy(dtype=object)
            if ev.POSITION_CATEGORY in emp
            else np.full(n, None, dtype=object)
        )
        features = np.hstack(
            [
                _columns(emp, [src for src, _ in _EMPLOYEE_SOURCE]),
                _one_hot(category, c.POSITION_CATEGORIES),
            ]
        )
        mode_names = [ev.mode_column(m, src) for m in c.COURSE_MODES for src in _MODE_SOURCE]
        mode_rates = _columns(emp, mode_names).reshape(n, len(c.COURSE_MODES), len(_MODE_SOURCE))

        comp = view.competency
        ri = nips.get_indexer(comp[c.NIP].astype(str))
        ki = comp_index.get_indexer(comp[c.COMPETENCY_ID].astype(str))
        ok = (ri >= 0) & (ki >= 0)
        ri, ki = ri[ok], ki[ok]

        def dense(values: np.ndarray, fill: float) -> np.ndarray:
            out = np.full((n, k), fill, dtype=np.float64)
            out[ri, ki] = values[ok]
            return out

        current, required, gap, staleness = _columns(
            comp, [CURRENT_LEVEL, c.REQUIRED_LEVEL, GAP, STALENESS_DAYS]
        ).T
        if REQUIRED in comp:
            required = np.where(comp[REQUIRED].to_numpy(dtype=bool), required, np.nan)
        return cls(
            nips=nips,
            competency_ids=comp_index,
            features=features,
            mode_rates=mode_rates,
            current=dense(current, np.nan),
            required=dense(required, np.nan),
            gap=dense(np.nan_to_num(gap, nan=0.0), 0.0),
            staleness=dense(staleness, np.nan),
            level_mean=dense(_columns(comp, [LEVEL_MEAN])[:, 0], np.nan),
        )

    @property
    def n_employees(self) -> int:
        return len(self.nips)

    @cached_property
    def posterior(self) -> np.ndarray:
        """`level_mean` (all NaN when the view did not carry it)."""
        if self.level_mean is None:
            return np.full(self.current.shape, np.nan)
        return self.level_mean

    @cached_property
    def level(self) -> np.ndarray:
        """Current level with never-assessed competencies at the floor level."""
        return np.where(np.isnan(self.current), float(c.MIN_LEVEL_VALUE), self.current)


# --- pairs -----------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class PairMatrix:
    """Features of n pairs and of their m bands (entries).

    `X` (n x PAIR_FEATURES) is the completion model's input. Band j belongs to pair
    `entry_pair[j]` and is catalogue entry `entry_pos[j]` of `CourseKnowledge`; `band_X`
    (m x BAND_FEATURES) holds its own columns, `gap` the employee's gap on its competency,
    `required` whether the position requires it and `default_gain` the band default gain
    (`model.path_inputs.band_gain`).
    """

    X: np.ndarray
    entry_pair: np.ndarray
    entry_pos: np.ndarray
    band_X: np.ndarray
    gap: np.ndarray
    required: np.ndarray
    default_gain: np.ndarray

    def gain_input(self) -> np.ndarray:
        """The gain model's input (m x GAIN_FEATURES): each band's pair row, then its own."""
        n_pair = self.X.shape[1]
        out = np.empty((len(self.entry_pair), n_pair + self.band_X.shape[1]), dtype=self.X.dtype)
        out[:, :n_pair] = self.X[self.entry_pair]
        out[:, n_pair:] = self.band_X
        return out


def band_fit(
    level: np.ndarray,
    min_level: np.ndarray,
    target_level: np.ndarray,
    underprepared_factor: float = UNDERPREPARED_FACTOR,
    tolerance: float = BAND_TOLERANCE,
) -> np.ndarray:
    """Share of a band's effect a participant at `level` can take: 1 inside the band (from
    `tolerance` below min_level up to the target), `underprepared_factor` below it, 0 at or
    above the target (the course teaches nothing they do not have)."""
    level = np.asarray(level, dtype=np.float64)
    below_target = level < target_level
    inside = (level >= min_level - tolerance) & below_target
    return np.where(inside, 1.0, np.where(below_target, float(underprepared_factor), 0.0))


def concat_ranges(starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """Concatenated ranges starts[j]:stops[j], without a Python loop."""
    counts = stops - starts
    offs = np.cumsum(counts) - counts
    return np.arange(int(counts.sum()), dtype=np.int64) + np.repeat(starts - offs, counts)


def pair_matrix(
    employees: EmployeeArrays,
    courses: CourseKnowledge,
    emp_idx: np.ndarray,
    course_idx: np.ndarray,
    dtype: type = np.float64,
) -> PairMatrix:
    """Features of pairs (employees row `emp_idx[j]`, courses row `course_idx[j]`)."""
    if not employees.competency_ids.equals(courses.competency_ids):
        raise ValueError("employees and courses were built over different competency ids")
    emp_idx = np.asarray(emp_idx, dtype=np.int64)
    course_idx = np.asarray(course_idx, dtype=np.int64)
    n = len(emp_idx)
    if course_idx.shape != (n,):
        raise ValueError("emp_idx and course_idx differ in length")

    # Bands of every pair, flattened.
    ptr = courses.entry_ptr
    starts, stops = ptr[course_idx], ptr[course_idx + 1]
    e_pos = concat_ranges(starts, stops)
    e_pair = np.repeat(np.arange(n, dtype=np.int64), stops - starts)
    e_emp = emp_idx[e_pair]
    comp = courses.entry_comp[e_pos]
    lo, hi = courses.entry_min[e_pos], courses.entry_target[e_pos]
    current = employees.current[e_emp, comp]
    level = employees.level[e_emp, comp]
    gap = employees.gap[e_emp, comp]
    required = ~np.isnan(employees.required[e_emp, comp])
    assessed = ~np.isnan(current)
    in_band = (level >= lo - BAND_TOLERANCE) & (level < hi)
    default_gain = np.maximum(hi - np.fmax(level, lo), 0.0)
    effect = courses.entry_effect[e_pos]
    has_gap = gap > 0

    def per_pair(values: np.ndarray) -> np.ndarray:
        return np.bincount(e_pair, weights=values, minlength=n)

    n_bands = np.bincount(e_pair, minlength=n).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        fit = np.column_stack(
            [
                per_pair(has_gap.astype(np.float64)),
                per_pair(gap),
                per_pair(np.minimum(gap, default_gain)),
                per_pair(level - lo) / n_bands,
                per_pair(hi - level) / n_bands,
                per_pair(in_band.astype(np.float64)) / n_bands,
                per_pair(required.astype(np.float64)) / n_bands,
                per_pair(assessed.astype(np.float64)) / n_bands,
                per_pair(np.where(has_gap, np.nan_to_num(effect), 0.0)),
            ]
        )

    mode = courses.mode_code[course_idx]
    known_mode = mode >= 0
    rates = np.full((n, len(_MODE_SOURCE)), np.nan)
    rates[known_mode] = employees.mode_rates[emp_idx[known_mode], mode[known_mode]]
    overall = employees.features[emp_idx, EMPLOYEE_FEATURES.index("emp_completion_rate")]

    X: np.ndarray = np.empty((n, len(PAIR_FEATURES)), dtype=dtype)
    blocks = (
        courses.features[course_idx],
        employees.features[emp_idx],
        rates,
        (rates[:, 0] - overall)[:, None],
        fit,
    )
    col = 0
    for block in blocks:
        X[:, col : col + block.shape[1]] = block
        col += block.shape[1]

    band_X: np.ndarray = np.column_stack(
        [
            lo,
            hi,
            current,
            assessed.astype(np.float64),
            level - lo,
            hi - level,
            in_band.astype(np.float64),
            gap,
            required.astype(np.float64),
            employees.required[e_emp, comp],
            employees.staleness[e_emp, comp],
            effect,
            courses.entry_effect_mean[e_pos],
            courses.entry_n_effect[e_pos],
            employees.posterior[e_emp, comp],
        ]
    ).astype(dtype, copy=False)
    return PairMatrix(X, e_pair, e_pos, band_X, gap, required, default_gain)


def level_matrix(
    employees: EmployeeArrays,
    emp_idx: np.ndarray,
    comp_idx: np.ndarray,
    dtype: type = np.float64,
) -> np.ndarray:
    """`LEVEL_FEATURES` of (employees row, competency code) pairs."""
    emp_idx = np.asarray(emp_idx, dtype=np.int64)
    comp_idx = np.asarray(comp_idx, dtype=np.int64)
    X: np.ndarray = np.empty((len(emp_idx), len(LEVEL_FEATURES)), dtype=dtype)
    k = len(EMPLOYEE_FEATURES)
    X[:, :k] = employees.features[emp_idx]
    X[:, k] = employees.current[emp_idx, comp_idx]
    X[:, k + 1] = employees.required[emp_idx, comp_idx]
    X[:, k + 2] = employees.gap[emp_idx, comp_idx]
    X[:, k + 3] = employees.staleness[emp_idx, comp_idx]
    return X


# --- labelled frames -------------------------------------------------------------------------


def _pair_indices(
    view: EmployeeView, courses: CourseKnowledge, pairs: pd.DataFrame
) -> tuple[EmployeeArrays, np.ndarray, np.ndarray]:
    employees = EmployeeArrays.from_view(view, courses.competency_ids)
    ei = employees.nips.get_indexer(pairs[c.NIP].astype(str))
    ci = courses.course_ids.get_indexer(pairs[c.COURSE_ID].astype(str))
    if (ei < 0).any():
        raise ValueError(f"nip {pairs[c.NIP].to_numpy()[ei < 0][0]!r} is not in the view")
    if (ci < 0).any():
        raise ValueError(f"unknown course {pairs[c.COURSE_ID].to_numpy()[ci < 0][0]!r}")
    return employees, ei, ci


def pair_features(
    view: EmployeeView,
    courses: pd.DataFrame,
    course_competencies: pd.DataFrame,
    pairs: pd.DataFrame,
    competency_ids: Sequence[str] = (),
) -> pd.DataFrame:
    """One row per row of `pairs` (nip, course_id): the pair and `PAIR_FEATURES` columns.

    `courses` / `course_competencies` are `FeatureSet.courses` / `course_competencies` at
    the view's `as_of`. An unknown nip or course raises `ValueError`.
    """
    knowledge = CourseKnowledge.from_frames(courses, course_competencies, list(competency_ids))
    employees, ei, ci = _pair_indices(view, knowledge, pairs)
    pm = pair_matrix(employees, knowledge, ei, ci, dtype=np.float64)
    out = pd.DataFrame(pm.X, columns=list(PAIR_FEATURES), copy=False)
    out.insert(0, c.COURSE_ID, pairs[c.COURSE_ID].to_numpy(dtype=object))
    out.insert(0, c.NIP, pairs[c.NIP].to_numpy(dtype=object))
    return out


def band_features(
    view: EmployeeView,
    courses: pd.DataFrame,
    course_competencies: pd.DataFrame,
    pairs: pd.DataFrame,
    competency_ids: Sequence[str] = (),
) -> pd.DataFrame:
    """One row per (pair, competency band of its course): `GAIN_FEATURES` columns.

    Rows of a pair follow `pairs` order, bands sorted by competency; columns nip, course_id,
    competency_id first. An unknown nip or course raises `ValueError`.
    """
    knowledge = CourseKnowledge.from_frames(courses, course_competencies, list(competency_ids))
    employees, ei, ci = _pair_indices(view, knowledge, pairs)
    pm = pair_matrix(employees, knowledge, ei, ci, dtype=np.float64)
    out = pd.DataFrame(pm.gain_input(), columns=list(GAIN_FEATURES), copy=False)
    comp = knowledge.competency_ids.to_numpy(dtype=object)[knowledge.entry_comp[pm.entry_pos]]
    out.insert(0, c.COMPETENCY_ID, comp)
    out.insert(0, c.COURSE_ID, pairs[c.COURSE_ID].to_numpy(dtype=object)[pm.entry_pair])
    out.insert(0, c.NIP, pairs[c.NIP].to_numpy(dtype=object)[pm.entry_pair])
    return out
