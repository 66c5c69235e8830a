"""Features of a candidate mentoring pair (mentee, mentor, focus competency), and training examples.

A pair is described by how far the mentor is ahead in the focus competency (of the mentee and
of the mentee's required level), the mentor's track record (outcome ratings and mentee level
changes, both shrunk toward the mean by `features.mentor_vectors`), the mentor's load, and how
the two relate in the organisation (same unit, same position category, grade, golongan and
tenure differences). A never-assessed mentee counts from the floor level (`MIN_LEVEL_VALUE`), as
the gaps in `features.competency` do, and `mentee_assessed` tells a model the level is assumed.

`expected_lead` is the difference of the two people's estimated levels
(`features.level_estimates`: all assessments weighted by their method's precision and age, with
the position's required level as the prior), `lead_sd` its uncertainty and `p_ahead` the
probability that the mentor is really ahead. `headroom` is what the mentor has to pass on, with
diminishing returns: `p_ahead x (1 - exp(-lead / HEADROOM_SCALE))` (a mentor two levels ahead
passes on little more in one mentorship than one a level ahead).

Everything is numpy over integer codes: `MentorPairArrays` turns an `EmployeeView` into
per-employee arrays once, then `pair_matrix` gathers the features of any (mentee, mentor,
competency) index triples, so millions of candidate pairs cost a few array takes.

Training examples (`mentorship_examples`): for every snapshot d, the mentorships that started in
(d, d + horizon] between two employees active at d, with features built at d and two targets
seen at d + horizon + follow-up: the outcome rating (1..5) and the mentee's level change in the
focus competency (first assessment on or after the end minus the last one on or before the
start, `features.competency.level_change`; NaN when either side is unobserved).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features import columns as c
from features import evaluation as ev
from features import mentor_vectors as mv
from features.as_of import AsOfLike, days_since_epoch, tables_as_of, to_as_of
from features.build import build_features
from features.competency import CURRENT_LEVEL, REQUIRED, assessment_history, level_change
from features.level_estimates import (
    HEADROOM_SCALE,
    LEVEL_MEAN,
    LEVEL_SD,
    PRIOR_SD,
    UNREQUIRED_PRIOR_MEAN,
    UNREQUIRED_PRIOR_SD,
    debiased_tables,
    p_above,
)
from features.plan_input import EmployeeView, employee_view

#: Sd of a level estimate when the view carries no estimate (an assessed level alone).
ASSESSED_SD = 0.5

# --- feature column names -----------------------------------------------------------------
LEVEL_LEAD = "level_lead"
EXPECTED_LEAD = "expected_lead"
MENTOR_OVER_REQUIRED = "mentor_over_required"
MENTEE_GAP = "mentee_gap"
MENTEE_ASSESSED = "mentee_assessed"
MENTOR_OUTCOME = "mentor_outcome_shrunk"
MENTOR_MENTEE_CHANGE = "mentor_mentee_change_shrunk"
MENTOR_N_MENTORSHIPS = "mentor_n_mentorships"
MENTOR_LOAD = "mentor_current_load"
SAME_UNIT = "same_unit"
SAME_CATEGORY = "same_category"
GRADE_DIFF = "grade_diff"
GOLONGAN_DIFF = "golongan_diff"
TENURE_DIFF = "tenure_diff"
MENTOR_SKP = "mentor_skp"
MENTEE_COMPLETION_RATE = "mentee_completion_rate"
LEAD_SD = "lead_sd"
P_AHEAD = "p_ahead"
HEADROOM = "headroom"
MENTOR_LEVEL_MEAN = "mentor_level_mean"
MENTOR_EFFECT = "mentor_gain_per_headroom"

#: Columns of the pair feature matrix, in order. Differences are mentor minus mentee.
MENTOR_PAIR_FEATURES = (
    LEVEL_LEAD,
    EXPECTED_LEAD,
    MENTOR_OVER_REQUIRED,
    MENTEE_GAP,
    MENTEE_ASSESSED,
    MENTOR_OUTCOME,
    MENTOR_MENTEE_CHANGE,
    MENTOR_N_MENTORSHIPS,
    MENTOR_LOAD,
    SAME_UNIT,
    SAME_CATEGORY,
    GRADE_DIFF,
    GOLONGAN_DIFF,
    TENURE_DIFF,
    MENTOR_SKP,
    MENTEE_COMPLETION_RATE,
    LEAD_SD,
    P_AHEAD,
    HEADROOM,
    MENTOR_LEVEL_MEAN,
    MENTOR_EFFECT,
)

# --- training example columns -------------------------------------------------------------
SNAPSHOT = "snapshot"
LEVEL_CHANGE = "level_change"
#: Identifying columns of a training example; features follow, then the two targets.
EXAMPLE_KEYS = (SNAPSHOT, c.MENTEE_NIP, c.MENTOR_NIP, c.COMPETENCY_ID, c.START_DATE)
EXAMPLE_COLUMNS = EXAMPLE_KEYS + MENTOR_PAIR_FEATURES + (c.OUTCOME, LEVEL_CHANGE)


def _column(frame: pd.DataFrame, name: str, fill: float = np.nan) -> np.ndarray:
    """A numeric column as float64 (NaN for missing); `fill` everywhere when absent."""
    if name not in frame.columns:
        return np.full(len(frame), fill, dtype=np.float64)
    return frame[name].to_numpy(dtype=np.float64, na_value=np.nan)


@dataclass(frozen=True, eq=False)
class MentorPairArrays:
    """An `EmployeeView` as arrays: rows follow `view.employees`, columns `competency_ids`.

    `level` is NaN where never assessed and `required` NaN where the position does not require
    the competency; `unit` / `category` are integer codes (-1 when unknown).
    """

    nips: pd.Index
    competency_ids: pd.Index
    level: np.ndarray
    required: np.ndarray
    level_mean: np.ndarray
    level_sd: np.ndarray
    unit: np.ndarray
    category: np.ndarray
    grade: np.ndarray
    golongan: np.ndarray
    tenure: np.ndarray
    skp: np.ndarray
    completion: np.ndarray
    outcome: np.ndarray
    mentee_change: np.ndarray
    n_mentorships: np.ndarray
    load: np.ndarray
    effect: np.ndarray

    @classmethod
    def from_view(cls, view: EmployeeView) -> MentorPairArrays:
        emp = view.employees
        nips = pd.Index(emp[c.NIP].astype(str).to_numpy(dtype=object))
        comp = view.competency
        competency_ids = pd.Index(pd.unique(comp[c.COMPETENCY_ID].astype(str)), dtype=object)
        ri = nips.get_indexer(comp[c.NIP].astype(str))
        ki = competency_ids.get_indexer(comp[c.COMPETENCY_ID].astype(str))
        ok = (ri >= 0) & (ki >= 0)
        shape = (len(nips), len(competency_ids))
        level = np.full(shape, np.nan)
        level[ri[ok], ki[ok]] = _column(comp, CURRENT_LEVEL)[ok]
        req_values = _column(comp, c.REQUIRED_LEVEL)
        if REQUIRED in comp.columns:
            req_values = np.where(comp[REQUIRED].to_numpy(dtype=bool), req_values, np.nan)
        required = np.full(shape, np.nan)
        required[ri[ok], ki[ok]] = req_values[ok]
        level_mean, level_sd = _estimates(comp, ri, ki, ok, level, required)

        def codes(name: str) -> np.ndarray:
            if name not in emp.columns:
                return np.full(len(emp), -1, dtype=np.int64)
            return pd.factorize(emp[name])[0].astype(np.int64)

        return cls(
            nips=nips,
            competency_ids=competency_ids,
            level=level,
            required=required,
            level_mean=level_mean,
            level_sd=level_sd,
            unit=codes(c.UNIT_ID),
            category=codes(ev.POSITION_CATEGORY),
            grade=_column(emp, c.GRADE),
            golongan=_column(emp, ev.GOLONGAN_RANK),
            tenure=_column(emp, ev.TENURE_YEARS),
            skp=_column(emp, ev.SKP_LATEST),
            completion=_column(emp, ev.COMPLETION_RATE),
            outcome=_column(emp, mv.OUTCOME_SHRUNK),
            mentee_change=_column(emp, mv.MENTEE_CHANGE_SHRUNK),
            n_mentorships=np.nan_to_num(_column(emp, mv.N_MENTORSHIPS, 0.0), nan=0.0),
            load=np.nan_to_num(_column(emp, mv.CURRENT_LOAD, 0.0), nan=0.0),
            effect=_column(emp, mv.MENTEE_GAIN_PER_HEADROOM),
        )

    def indices(
        self, mentee_nips: object, mentor_nips: object, competency_ids: object
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Row codes of mentees and mentors and column codes of competencies (-1: unknown)."""
        return (
            self.nips.get_indexer(pd.Index(mentee_nips, dtype=object)),
            self.nips.get_indexer(pd.Index(mentor_nips, dtype=object)),
            self.competency_ids.get_indexer(pd.Index(competency_ids, dtype=object)),
        )


def _levels(
    arrays: MentorPairArrays, person: np.ndarray, competency: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(assessed level, own required level) of people in competencies; NaN when unknown."""
    known = competency >= 0
    if arrays.level.shape[1] == 0 or len(person) == 0:
        empty = np.full(len(person), np.nan)
        return empty, empty.copy()
    k = np.where(known, competency, 0)
    level = np.where(known, arrays.level[person, k], np.nan)
    required = np.where(known, arrays.required[person, k], np.nan)
    return level, required


def _estimates(
    comp: pd.DataFrame,
    ri: np.ndarray,
    ki: np.ndarray,
    ok: np.ndarray,
    level: np.ndarray,
    required: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Level estimate and sd per (person, competency): the view's, else from the point level."""
    if LEVEL_MEAN in comp.columns and LEVEL_SD in comp.columns:
        mean = np.full(level.shape, np.nan)
        sd = np.full(level.shape, np.nan)
        mean[ri[ok], ki[ok]] = _column(comp, LEVEL_MEAN)[ok]
        sd[ri[ok], ki[ok]] = _column(comp, LEVEL_SD)[ok]
    else:
        mean = level.copy()
        sd = np.where(np.isnan(level), np.nan, ASSESSED_SD)
    prior_mean = np.where(np.isnan(required), UNREQUIRED_PRIOR_MEAN, required)
    prior_sd = np.where(np.isnan(required), UNREQUIRED_PRIOR_SD, PRIOR_SD)
    missing = np.isnan(mean) | np.isnan(sd)
    return np.where(missing, prior_mean, mean), np.where(missing, prior_sd, sd)


def _estimate(
    arrays: MentorPairArrays, person: np.ndarray, competency: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(level estimate, sd) of people in competencies; the unrequired prior when unknown."""
    if arrays.level_mean.shape[1] == 0 or len(person) == 0:
        n = len(person)
        return np.full(n, UNREQUIRED_PRIOR_MEAN), np.full(n, UNREQUIRED_PRIOR_SD)
    known = competency >= 0
    k = np.where(known, competency, 0)
    mean = np.where(known, arrays.level_mean[person, k], UNREQUIRED_PRIOR_MEAN)
    sd = np.where(known, arrays.level_sd[person, k], UNREQUIRED_PRIOR_SD)
    return mean, sd


def lead_estimate(
    arrays: MentorPairArrays, mentee: np.ndarray, mentor: np.ndarray, competency: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(expected lead, its sd, P(mentor truly above mentee)) in the focus competency."""
    mentor_mean, mentor_sd = _estimate(arrays, np.asarray(mentor), np.asarray(competency))
    mentee_mean, mentee_sd = _estimate(arrays, np.asarray(mentee), np.asarray(competency))
    lead = mentor_mean - mentee_mean
    sd = np.sqrt(mentor_sd**2 + mentee_sd**2)
    return lead, sd, p_above(mentor_mean, mentor_sd, mentee_mean, mentee_sd)


def expected_lead(
    arrays: MentorPairArrays, mentee: np.ndarray, mentor: np.ndarray, competency: np.ndarray
) -> np.ndarray:
    """Mentor's minus mentee's estimated level in the focus competency (see module doc)."""
    return lead_estimate(arrays, mentee, mentor, competency)[0]


def headroom(lead: np.ndarray, p_ahead: np.ndarray) -> np.ndarray:
    """What a mentor has to pass on: P(ahead) x saturating expected lead (see module doc)."""
    lead = np.maximum(np.nan_to_num(np.asarray(lead, dtype=np.float64), nan=0.0), 0.0)
    return np.asarray(p_ahead, dtype=np.float64) * (1.0 - np.exp(-lead / HEADROOM_SCALE))


def pair_matrix(
    arrays: MentorPairArrays, mentee: np.ndarray, mentor: np.ndarray, competency: np.ndarray
) -> np.ndarray:
    """Features (`MENTOR_PAIR_FEATURES` columns) of pairs given as index arrays.

    A competency index of -1 (a competency nobody in the view is assessed in or required to
    have) gives NaN levels; mentee and mentor indices must be valid.
    """
    mentee = np.asarray(mentee, dtype=np.int64)
    mentor = np.asarray(mentor, dtype=np.int64)
    competency = np.asarray(competency, dtype=np.int64)
    if len(arrays.nips) and ((mentee < 0).any() or (mentor < 0).any()):
        raise ValueError("pairs name employees that are not in the view")
    mentee_level, required = _levels(arrays, mentee, competency)
    mentor_level, _ = _levels(arrays, mentor, competency)
    assessed = ~np.isnan(mentee_level)
    mentee_from = np.where(assessed, mentee_level, float(c.MIN_LEVEL_VALUE))
    gap = np.where(np.isnan(required), 0.0, np.maximum(required - mentee_from, 0.0))
    same_unit = (arrays.unit[mentee] == arrays.unit[mentor]) & (arrays.unit[mentee] >= 0)
    same_category = (arrays.category[mentee] == arrays.category[mentor]) & (
        arrays.category[mentee] >= 0
    )
    lead, lead_sd, p_ahead = lead_estimate(arrays, mentee, mentor, competency)
    mentor_mean, _ = _estimate(arrays, mentor, competency)
    return np.column_stack(
        [
            mentor_level - mentee_from,
            lead,
            mentor_level - required,
            gap,
            assessed.astype(np.float64),
            arrays.outcome[mentor],
            arrays.mentee_change[mentor],
            arrays.n_mentorships[mentor],
            arrays.load[mentor],
            same_unit.astype(np.float64),
            same_category.astype(np.float64),
            arrays.grade[mentor] - arrays.grade[mentee],
            arrays.golongan[mentor] - arrays.golongan[mentee],
            arrays.tenure[mentor] - arrays.tenure[mentee],
            arrays.skp[mentor],
            arrays.completion[mentee],
            lead_sd,
            p_ahead,
            headroom(lead, p_ahead),
            mentor_mean,
            arrays.effect[mentor],
        ]
    ).reshape(len(mentee), len(MENTOR_PAIR_FEATURES))


def mentor_pair_features(
    view: EmployeeView | MentorPairArrays,
    pairs: pd.DataFrame,
    *,
    col_mentee: str = c.MENTEE_NIP,
    col_mentor: str = c.MENTOR_NIP,
    col_competency: str = c.COMPETENCY_ID,
) -> pd.DataFrame:
    """Labelled version of `pair_matrix`: one row per row of `pairs` (same index)."""
    arrays = view if isinstance(view, MentorPairArrays) else MentorPairArrays.from_view(view)
    mentee, mentor, comp = arrays.indices(
        pairs[col_mentee].astype(str), pairs[col_mentor].astype(str), pairs[col_competency]
    )
    unknown = (mentee < 0) | (mentor < 0)
    if unknown.any():
        raise ValueError(f"{int(unknown.sum())} pairs name employees that are not in the view")
    return pd.DataFrame(
        pair_matrix(arrays, mentee, mentor, comp),
        columns=list(MENTOR_PAIR_FEATURES),
        index=pairs.index,
    )


def mentorship_examples(
    tables: Mapping[str, pd.DataFrame],
    snapshot_dates: Iterable[AsOfLike],
    *,
    horizon_days: int = 365,
    follow_up_days: int = 365,
    window_days: int | None = 730,
    views: Mapping[pd.Timestamp, EmployeeView] | None = None,
) -> pd.DataFrame:
    """Training examples (`EXAMPLE_COLUMNS`) from the mentorships that followed each snapshot.

    A mentorship started in (d, d + horizon_days] between a mentee and a mentor both active at
    d gives one example with features at d. Its targets are read from the tables cut at
    d + horizon_days + follow_up_days: the outcome (NaN while unrated or still running) and the
    level change (NaN when unobserved; assessments further than `window_days` from the
    mentorship are ignored). The label cut must not pass the evaluation date of a backtest.
    `views` may hold already built views keyed by snapshot date.
    """
    if horizon_days < 1 or follow_up_days < 0:
        raise ValueError("horizon_days must be >= 1 and follow_up_days >= 0")
    pieces = []
    for d in sorted({to_as_of(x) for x in snapshot_dates}):
        label_cut = d + pd.Timedelta(days=horizon_days + follow_up_days)
        seen = tables_as_of(tables, label_cut)
        ms = seen[c.MENTORSHIPS]
        window = (ms[c.START_DATE] > d) & (ms[c.START_DATE] <= d + pd.Timedelta(days=horizon_days))
        ms = ms.loc[window.to_numpy(dtype=bool)].reset_index(drop=True)
        if ms.empty:
            continue
        view = views.get(d) if views is not None else None
        if view is None:
            view = employee_view(tables, build_features(tables, d))
        arrays = MentorPairArrays.from_view(view)
        mentee, mentor, comp = arrays.indices(
            ms[c.MENTEE_NIP].astype(str), ms[c.MENTOR_NIP].astype(str), ms[c.COMPETENCY_ID]
        )
        known = (mentee >= 0) & (mentor >= 0)
        ms, mentee, mentor, comp = (
            ms.loc[known].reset_index(drop=True),
            *(a[known] for a in (mentee, mentor, comp)),
        )
        if ms.empty:
            continue
        X = pair_matrix(arrays, mentee, mentor, comp)

        history = assessment_history(debiased_tables(seen), label_cut)
        keys = history.encode(ms[c.MENTEE_NIP], ms[c.COMPETENCY_ID])
        ended = ms[c.END_DATE].notna().to_numpy()
        keys = np.where(ended, keys, -1)
        start_day = days_since_epoch(ms[c.START_DATE])
        end_day = np.where(ended, days_since_epoch(ms[c.END_DATE].fillna(ms[c.START_DATE])), 0)
        change = level_change(history, keys, start_day, end_day, window_days=window_days)

        piece = pd.DataFrame(X, columns=list(MENTOR_PAIR_FEATURES))
        piece.insert(0, SNAPSHOT, d)
        piece.insert(1, c.MENTEE_NIP, ms[c.MENTEE_NIP].array)
        piece.insert(2, c.MENTOR_NIP, ms[c.MENTOR_NIP].array)
        piece.insert(3, c.COMPETENCY_ID, ms[c.COMPETENCY_ID].array)
        piece.insert(4, c.START_DATE, ms[c.START_DATE].to_numpy())
        piece[c.OUTCOME] = ms[c.OUTCOME].to_numpy(dtype=np.float64, na_value=np.nan)
        piece[LEVEL_CHANGE] = change["change"].to_numpy()
        pieces.append(piece)
    if not pieces:
        return _empty_examples()
    return pd.concat(pieces, ignore_index=True)[list(EXAMPLE_COLUMNS)]


def _empty_examples() -> pd.DataFrame:
    frame = pd.DataFrame(
        {name: np.array([], dtype=np.float64) for name in EXAMPLE_COLUMNS}, columns=EXAMPLE_COLUMNS
    )
    frame[SNAPSHOT] = pd.to_datetime(frame[SNAPSHOT])
    frame[c.START_DATE] = pd.to_datetime(frame[c.START_DATE])
    for col in (c.MENTEE_NIP, c.MENTOR_NIP, c.COMPETENCY_ID):
        frame[col] = frame[col].astype("str")
    return frame
