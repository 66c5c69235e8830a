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
`CourseKnowledge` (from `FeatureSet.courses` / `course_competencies`) are built once, then
`pair_matrix` gathers the features of any (employee index, course index) pairs. Both hold only
what was known at their `as_of`. `pair_features` / `band_features` are the labelled-frame
versions for exploration and tests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
import scipy.sparse as sp

from features import columns as c
from features import course_vectors as cv
from features import evaluation as ev
from features.as_of import AsOfLike, days_since_epoch
from features.competency import (
    CURRENT_LEVEL,
    GAP,
    REQUIRED,
    STALENESS_DAYS,
    assessment_history,
    level_change,
)
from features.plan_input import EmployeeView

#: A participant half a level below a band's min_level can still follow the course.
BAND_TOLERANCE = 0.5
#: Share of a band's gain credited to a participant below it (the content rule's own factor,
#: `model.baselines.ContentRuleRecommender`): the course assumes an entry level they lack.
UNDERPREPARED_FACTOR = 0.5
#: Column of a courses frame holding `course_score_effects` (absent: unknown).
SCORE_EFFECT = "score_effect"

#: Provider kinds, recognised by keywords in the provider name (first match wins).
PROVIDER_KINDS = ("kementerian", "lan", "bpsdm_provinsi", "bkpsdm_daerah", "perguruan_tinggi",
                  "lainnya")  # fmt: skip
_PROVIDER_PATTERNS = (
    ("kementerian", r"\bkemen|\bkementerian\b|\bpusdiklat\b|\bditjen\b|direktorat jenderal"),
    ("lan", r"\blan\b|lembaga administrasi negara"),
    ("bpsdm_provinsi", r"\bbpsdm\b"),
    ("bkpsdm_daerah", r"\bbkpsdm\b|\bbkpp\b|\bbkd\b|badan kepegawaian"),
    ("perguruan_tinggi", r"\buniversitas\b|\bpoliteknik\b|\buin\b|\binstitut\b|sekolah tinggi"),
)

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
COURSE_FEATURES = (
    ("course_hours_jp",)
    + tuple(f"course_mode_{m}" for m in c.COURSE_MODES)
    + tuple(f"course_provider_{k}" for k in PROVIDER_KINDS)
    + (
        "course_completion_rate",
        "course_mean_score",
        "course_score_effect",
        "course_effect",
        "course_n_enrolled",
        "course_n_effect",
        "course_n_competencies",
    )
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


def provider_kind(providers: pd.Series | Sequence[str]) -> np.ndarray:
    """Kind of each provider name (`PROVIDER_KINDS`), by keywords; unknown -> "lainnya"."""
    names = pd.Series(providers, dtype=object).fillna("").astype(str).str.lower()
    out = np.full(len(names), PROVIDER_KINDS[-1], dtype=object)
    decided = np.zeros(len(names), dtype=bool)
    for kind, pattern in _PROVIDER_PATTERNS:
        hit = names.str.contains(pattern, regex=True).to_numpy(dtype=bool) & ~decided
        out[hit] = kind
        decided |= hit
    return out


def _column(frame: pd.DataFrame, name: str) -> np.ndarray:
    """A numeric column as float64, or NaN when the frame lacks it."""
    if name not in frame:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def _columns(frame: pd.DataFrame, names: Sequence[str]) -> np.ndarray:
    """Numeric columns as one float64 matrix (NaN for absent ones), in a single conversion."""
    block = frame.reindex(columns=list(names))
    try:
        return block.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError):
        return np.column_stack([_column(frame, name) for name in names]).reshape(len(frame), -1)


def _one_hot(values: pd.Series | np.ndarray, levels: Sequence[str]) -> np.ndarray:
    lookup = {level: i for i, level in enumerate(levels)}
    codes = np.fromiter((lookup.get(v, -1) for v in values), dtype=np.int64, count=len(values))
    out = np.zeros((len(codes), len(levels)), dtype=np.float64)
    ok = codes >= 0
    out[np.flatnonzero(ok), codes[ok]] = 1.0
    return out


# --- courses ---------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class CourseKnowledge:
    """The catalogue and its observed history at one `as_of`, as arrays.

    Bands are CSR: course i's are entries `entry_ptr[i]:entry_ptr[i + 1]`, sorted by
    competency code. `features` rows follow `course_ids`, columns `COURSE_FEATURES`.
    `competency_ids` are the codes of `entry_comp` and of `EmployeeArrays` built for it.
    """

    as_of: pd.Timestamp | None
    course_ids: pd.Index
    competency_ids: pd.Index
    active: np.ndarray
    mode_code: np.ndarray
    features: np.ndarray
    entry_ptr: np.ndarray
    entry_comp: np.ndarray
    entry_min: np.ndarray
    entry_target: np.ndarray
    entry_effect: np.ndarray
    entry_effect_mean: np.ndarray
    entry_n_effect: np.ndarray

    @classmethod
    def from_frames(
        cls,
        courses: pd.DataFrame,
        course_competencies: pd.DataFrame,
        competency_ids: Sequence[str] | pd.Index = (),
        as_of: pd.Timestamp | None = None,
    ) -> CourseKnowledge:
        """From `features.course_vectors.course_vectors` / `course_effects` frames.

        The typed `courses` / `course_competencies` tables work too: history columns they
        lack become NaN. Competencies of the bands missing from `competency_ids` are appended.
        """
        course_ids = pd.Index(courses[c.COURSE_ID].astype(str).to_numpy(dtype=object))
        if course_ids.has_duplicates:
            raise ValueError("course ids are not unique")
        comp_ids = list(pd.Index(competency_ids).astype(str))
        seen = set(comp_ids)
        for k in course_competencies[c.COMPETENCY_ID].astype(str).tolist():
            if k not in seen:
                seen.add(k)
                comp_ids.append(k)
        comp_index = pd.Index(comp_ids, dtype=object)

        ci = course_ids.get_indexer(course_competencies[c.COURSE_ID].astype(str))
        ok = ci >= 0
        ki = comp_index.get_indexer(course_competencies[c.COMPETENCY_ID].astype(str))
        order = np.lexsort((ki[ok], ci[ok]))
        rows = np.flatnonzero(ok)[order]
        n = len(course_ids)
        ptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(ci[rows], minlength=n), out=ptr[1:])

        def band(name: str) -> np.ndarray:
            return _column(course_competencies, name)[rows]

        completion = _column(courses, cv.COMPLETION_RATE_SMOOTHED)
        completion = np.where(
            np.isnan(completion), _column(courses, cv.COMPLETION_RATE), completion
        )
        mode = courses[c.MODE].to_numpy(dtype=object)
        block = np.column_stack(
            [
                _column(courses, c.HOURS_JP),
                _one_hot(mode, c.COURSE_MODES),
                _one_hot(provider_kind(courses[c.PROVIDER]), PROVIDER_KINDS),
                completion,
                _column(courses, cv.MEAN_SCORE),
                _column(courses, SCORE_EFFECT),
                _column(courses, cv.MEAN_EFFECT_SHRUNK),
                _column(courses, cv.N_ENROLLED),
                _column(courses, cv.N_EFFECT),
                np.diff(ptr).astype(np.float64),
            ]
        )
        return cls(
            as_of=as_of,
            course_ids=course_ids,
            competency_ids=comp_index,
            active=courses[c.ACTIVE].to_numpy(dtype=bool),
            mode_code=pd.Index(c.COURSE_MODES).get_indexer(pd.Index(mode)).astype(np.int64),
            features=block,
            entry_ptr=ptr,
            entry_comp=ki[rows].astype(np.int64),
            entry_min=band(c.MIN_LEVEL),
            entry_target=band(c.TARGET_LEVEL),
            entry_effect=band(cv.EFFECT_SHRUNK),
            entry_effect_mean=band(cv.EFFECT_MEAN),
            entry_n_effect=band(cv.N_EFFECT),
        )

    @property
    def n_courses(self) -> int:
        return len(self.course_ids)

    @cached_property
    def entry_course(self) -> np.ndarray:
        return np.repeat(np.arange(self.n_courses, dtype=np.int64), np.diff(self.entry_ptr))

    @cached_property
    def entry_to_course(self) -> sp.csr_matrix:
        """Sparse entries x courses indicator: `values @ entry_to_course` sums bands per course."""
        n = len(self.entry_comp)
        return sp.csr_matrix(
            (np.ones(n), (np.arange(n), self.entry_course)), shape=(n, self.n_courses)
        )

    @cached_property
    def hours(self) -> np.ndarray:
        """JP of each course."""
        return self.features[:, COURSE_FEATURES.index("course_hours_jp")]

    @cached_property
    def effect(self) -> np.ndarray:
        """Mean shrunk observed effect per course (NaN when unknown)."""
        return self.features[:, COURSE_FEATURES.index("course_effect")]

    @cached_property
    def score_effect(self) -> np.ndarray:
        """Post-test value added per course, `course_score_effects` (NaN when unknown)."""
        return self.features[:, COURSE_FEATURES.index("course_score_effect")]


def score_readiness(
    tables: Mapping[str, pd.DataFrame],
    enrollments: pd.DataFrame,
    as_of: AsOfLike,
    window_days: int | None = 730,
) -> np.ndarray:
    """Per enrollment: how ready the participant was, for `course_score_effects`.

    The last level assessed on or before the start (within `window_days`) minus the band's
    min_level, clipped to [-2, 2], averaged over the course's bands; NaN where no band's level
    was known. `tables` are cut at `as_of` (`features.as_of.tables_as_of`).
    """
    history = assessment_history(tables, as_of)
    bands = tables[c.COURSE_COMPETENCIES][[c.COURSE_ID, c.COMPETENCY_ID, c.MIN_LEVEL]]
    rows = pd.DataFrame(
        {
            "_row": np.arange(len(enrollments)),
            c.NIP: enrollments[c.NIP].to_numpy(dtype=object),
            c.COURSE_ID: enrollments[c.COURSE_ID].to_numpy(dtype=object),
            "_day": days_since_epoch(enrollments[c.START_DATE]),
        }
    ).merge(bands.astype({c.COURSE_ID: object}), on=c.COURSE_ID, how="inner", sort=False)
    keys = history.encode(pd.Index(rows[c.NIP]), pd.Index(rows[c.COMPETENCY_ID]))
    day = rows["_day"].to_numpy()
    before = level_change(history, keys, day, day, window_days=window_days)["level_before"]
    gap = before.to_numpy() - rows[c.MIN_LEVEL].to_numpy(dtype=np.float64)
    ready = pd.Series(np.clip(gap, -2.0, 2.0)).groupby(rows["_row"].to_numpy()).mean()
    return ready.reindex(np.arange(len(enrollments))).to_numpy(dtype=np.float64)


def course_score_effects(
    enrollments: pd.DataFrame,
    course_ids: Sequence[str] | pd.Index,
    readiness: np.ndarray | None = None,
    *,
    shrinkage: float = 0.0,
    n_iter: int = 200,
) -> np.ndarray:
    """Per course: how much better its participants score on its post-test than elsewhere.

    A level change is observed only when someone is assessed before and after a course (a few
    percent of completions), while a post-test score is recorded for nearly every one: on
    small datasets it is the only per-course evidence of learning there is. Scores also
    reflect who takes a course and how ready they were, so they are fitted as score = mean +
    person + course + g * readiness + noise (`score_readiness`, one row per enrollment, NaN
    when unknown; alternating least squares), the value-added model of education research:
    a course is credited neither for strong participants nor blamed for underprepared ones.
    Person effects are shrunk by `shrinkage` pseudo-scores (0: plain fixed effects: someone
    scored once says nothing about a course).

    Returned as the empirical-Bayes posterior mean of each course effect in units of the
    between-course spread: an effect known with sampling variance v is shrunk by
    t2 / (t2 + v), where t2 is the variance of the course effects beyond their noise (method
    of moments). Courses that do not really differ all get 0, a thinly taken one stays near
    0, NaN marks courses without a scored completion. `enrollments` must hold only what was
    known at the date the result is used for.
    """
    index = pd.Index(course_ids, dtype=object)
    out = np.full(len(index), np.nan)
    completed = (enrollments[c.STATUS] == "completed").to_numpy(dtype=bool, na_value=False)
    scored = completed & enrollments[c.SCORE].notna().to_numpy()
    ci = index.get_indexer(enrollments[c.COURSE_ID].astype(str))
    ok = scored & (ci >= 0)
    if not ok.any():
        return out
    ci = ci[ok]
    score = enrollments[c.SCORE].to_numpy(dtype=np.float64, na_value=np.nan)[ok]
    pi = pd.factorize(enrollments[c.NIP].astype(str).to_numpy(dtype=object)[ok])[0]
    ready = np.full(len(ci), np.nan) if readiness is None else np.asarray(readiness)[ok]
    known = ~np.isnan(ready)
    covariates = np.column_stack([np.where(known, ready, 0.0), (~known).astype(np.float64)])
    use_covariates = known.any() and np.linalg.matrix_rank(covariates) == 2
    n_course = np.bincount(ci, minlength=len(index)).astype(np.float64)
    n_person = np.bincount(pi).astype(np.float64)
    resid = score - score.mean()
    course = np.zeros(len(index))
    person = np.bincount(pi, weights=resid) / (n_person + shrinkage)
    adjust = np.zeros(len(ci))
    converged = 1e-9 * max(float(resid.std()), 1e-12)
    for _ in range(int(n_iter)):
        previous = course
        course = np.bincount(ci, weights=resid - person[pi] - adjust, minlength=len(index))  # type: ignore[assignment]
        course /= np.maximum(n_course, 1.0)
        person = np.bincount(pi, weights=resid - course[ci] - adjust, minlength=len(n_person))  # type: ignore[assignment]
        person /= n_person + shrinkage
        if use_covariates:
            target = resid - course[ci] - person[pi]
            adjust = covariates @ np.linalg.lstsq(covariates, target, rcond=None)[0]
        if np.abs(course - previous).max() < converged:
            break
    seen = n_course > 0
    noise = resid - person[pi] - course[ci] - adjust
    dof = max(len(resid) - len(n_person) - int(seen.sum()) - 2 * use_covariates, 1)
    # A score tells about its course only beyond its person's other scores: someone scored
    # n times brings 1 - 1/n of a score's information (nothing when scored once).
    info = np.bincount(ci, weights=1.0 - 1.0 / (n_person[pi] + shrinkage), minlength=len(index))
    sampling = float(noise @ noise) / dof / np.maximum(info, 1e-12)
    informed = seen & (info >= 1.0)
    out[seen] = 0.0
    if informed.sum() < 2:
        return out
    centre = np.average(course[informed], weights=info[informed])
    effect = course - centre
    spread = float(np.mean(effect[informed] ** 2) - np.mean(sampling[informed]))
    if spread <= 1e-12:
        return out
    out[seen] = (effect * spread / (spread + sampling) / np.sqrt(spread))[seen]
    return out


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
        )

    @property
    def n_employees(self) -> int:
        return len(self.nips)

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
    (`model.path_builder.band_gain`).
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
