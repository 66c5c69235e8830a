"""Mentor vectors: what each active employee could offer as a mentor, per competency, at `as_of`.

Strength is the surplus of the mentor's current level over what their own position requires;
for a competency their position does not require, the floor level (`MIN_LEVEL_VALUE`) is the
reference, so strength is `level - 1`. Only assessed competencies are listed: nobody is
proposed as a mentor in a competency with no evidence.

Track record (per mentor, over mentorships ended by `as_of`): the mean outcome rating and the
mean level change of mentees in the focus competency (before/after as in
`features.competency.level_change`, on method-debiased assessments), each with its count and
shrunk toward the global mean with `prior_strength` pseudo-mentorships. Load counts
mentorships ongoing at `as_of`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from features import columns as c
from features.as_of import AsOfLike, days_since_epoch, tables_as_of
from features.competency import (
    ASSESSED,
    CURRENT_LEVEL,
    STALENESS_DAYS,
    AssessmentHistory,
    assessment_history,
    competency_gaps,
    level_change,
)
from features.evaluation import smoothed_rate
from features.level_estimates import debiased_tables, saturating_headroom

# --- feature column names -----------------------------------------------------------------
STRENGTH = "strength"
N_MENTORSHIPS = "n_mentorships"
N_ENDED = "n_mentorships_ended"
N_RATED = "n_outcomes"
OUTCOME_MEAN = "outcome_mean"
OUTCOME_SHRUNK = "outcome_shrunk"
N_MENTEE_CHANGE = "n_mentee_change"
MENTEE_CHANGE_MEAN = "mentee_change_mean"
MENTEE_CHANGE_SHRUNK = "mentee_change_shrunk"
CURRENT_LOAD = "current_load"
#: The mentor's effect: mentee gain per unit of headroom, least squares over their past
#: mentees, shrunk toward the pool with `prior_strength` pseudo-mentorships.
MENTEE_GAIN_PER_HEADROOM = "mentee_gain_per_headroom"
N_ENDED_IN_COMPETENCY = "n_mentorships_ended_in_competency"

STATS_COLUMNS = (
    N_MENTORSHIPS,
    N_ENDED,
    N_RATED,
    OUTCOME_MEAN,
    OUTCOME_SHRUNK,
    N_MENTEE_CHANGE,
    MENTEE_CHANGE_MEAN,
    MENTEE_CHANGE_SHRUNK,
    CURRENT_LOAD,
    MENTEE_GAIN_PER_HEADROOM,
)


def mentor_stats(
    tables: Mapping[str, pd.DataFrame],
    as_of: AsOfLike,
    *,
    history: AssessmentHistory | None = None,
    prior_strength: float = 3.0,
    window_days: int | None = 730,
) -> pd.DataFrame:
    """One row per active employee (employees-table order): mentoring track record and load."""
    t = tables_as_of(tables, as_of)
    if history is None:
        history = assessment_history(t, t.as_of)
    employees = t[c.EMPLOYEES]
    nips = history.nips
    n_emp = len(nips)
    mentorships = t[c.MENTORSHIPS]
    mentor = nips.get_indexer(mentorships[c.MENTOR_NIP])
    ended = mentorships[c.END_DATE].notna().to_numpy()
    outcome = mentorships[c.OUTCOME].to_numpy(dtype=np.float64, na_value=np.nan)
    ok = mentor >= 0
    rated = ok & ended & ~np.isnan(outcome)

    n_rated = np.bincount(mentor[rated], minlength=n_emp)
    outcome_sum = np.bincount(mentor[rated], outcome[rated], minlength=n_emp)
    outcome_prior = outcome[rated].mean() if rated.any() else np.nan

    # mentee level changes are read from method-debiased assessments (features.level_estimates)
    debiased = assessment_history(debiased_tables(t), t.as_of)
    keys = debiased.encode(mentorships[c.MENTEE_NIP], mentorships[c.COMPETENCY_ID])
    with_change = ok & ended & (keys >= 0)
    start_day = days_since_epoch(mentorships[c.START_DATE])[with_change]
    changes = level_change(
        debiased,
        keys[with_change],
        start_day,
        days_since_epoch(mentorships[c.END_DATE])[with_change],
        window_days=window_days,
    )
    change = changes["change"].to_numpy()
    observed = ~np.isnan(change)
    # the mentor's lead at the start (last readings on or before it) gives each gain its headroom
    mentor_keys = debiased.encode(mentorships[c.MENTOR_NIP], mentorships[c.COMPETENCY_ID])
    mentor_before = level_change(
        debiased, mentor_keys[with_change], start_day, start_day, window_days=None
    )["level_before"].to_numpy()
    room = saturating_headroom(mentor_before - changes["level_before"].to_numpy())
    room = np.where(np.isnan(room), np.nanmean(room) if (~np.isnan(room)).any() else 0.5, room)
    gain_x_room = np.bincount(
        mentor[with_change][observed], change[observed] * room[observed], minlength=n_emp
    )
    room_sq = np.bincount(mentor[with_change][observed], room[observed] ** 2, minlength=n_emp)
    pool_effect = gain_x_room.sum() / room_sq.sum() if room_sq.sum() > 0 else np.nan
    pseudo = prior_strength * (room_sq.sum() / max(int(observed.sum()), 1))
    changed_mentor = mentor[with_change][observed]
    n_change = np.bincount(changed_mentor, minlength=n_emp)
    change_sum = np.bincount(changed_mentor, change[observed], minlength=n_emp)
    change_prior = change[observed].mean() if observed.any() else 0.0

    with np.errstate(invalid="ignore", divide="ignore"):
        stats = pd.DataFrame(
            {
                c.MENTOR_NIP: employees[c.NIP].array,
                N_MENTORSHIPS: np.bincount(mentor[ok], minlength=n_emp),
                N_ENDED: np.bincount(mentor[ok & ended], minlength=n_emp),
                N_RATED: n_rated,
                OUTCOME_MEAN: np.where(n_rated > 0, outcome_sum / n_rated, np.nan),
                OUTCOME_SHRUNK: smoothed_rate(outcome_sum, n_rated, outcome_prior, prior_strength),
                N_MENTEE_CHANGE: n_change,
                MENTEE_CHANGE_MEAN: np.where(n_change > 0, change_sum / n_change, np.nan),
                MENTEE_CHANGE_SHRUNK: smoothed_rate(
                    change_sum, n_change, change_prior, prior_strength
                ),
                CURRENT_LOAD: np.bincount(mentor[ok & ~ended], minlength=n_emp),
                MENTEE_GAIN_PER_HEADROOM: (gain_x_room + pseudo * pool_effect) / (room_sq + pseudo),
            }
        )
    active = employees[c.ACTIVE].to_numpy(dtype=bool)
    return stats.loc[active].reset_index(drop=True)


def mentor_vectors(
    tables: Mapping[str, pd.DataFrame],
    as_of: AsOfLike,
    *,
    history: AssessmentHistory | None = None,
    gaps: pd.DataFrame | None = None,
    stats: pd.DataFrame | None = None,
    prior_strength: float = 3.0,
) -> pd.DataFrame:
    """One row per (active employee, assessed competency) with strength and mentor stats.

    Columns: mentor_nip, competency_id, level, required_level (NaN if not required), strength,
    assessed_on, staleness_days, n_mentorships_ended_in_competency, then `STATS_COLUMNS`.
    `gaps` and `stats` may be passed when already computed at the same `as_of`.
    """
    t = tables_as_of(tables, as_of)
    if history is None:
        history = assessment_history(t, t.as_of)
    if gaps is None:
        gaps = competency_gaps(t, t.as_of, history=history)
    if stats is None:
        stats = mentor_stats(t, t.as_of, history=history, prior_strength=prior_strength)

    own = gaps.loc[gaps[ASSESSED].to_numpy(dtype=bool)]
    level = own[CURRENT_LEVEL].to_numpy(dtype=np.float64)
    required = own[c.REQUIRED_LEVEL].to_numpy(dtype=np.float64)
    reference = np.where(np.isnan(required), float(c.MIN_LEVEL_VALUE), required)

    mentorships = t[c.MENTORSHIPS]
    ended_keys = history.encode(mentorships[c.MENTOR_NIP], mentorships[c.COMPETENCY_ID])[
        mentorships[c.END_DATE].notna().to_numpy()
    ]
    own_keys = history.encode(own[c.NIP], own[c.COMPETENCY_ID])
    counts = pd.Series(ended_keys[ended_keys >= 0]).value_counts()
    n_in_comp = counts.reindex(own_keys, fill_value=0).to_numpy(dtype=np.int64)

    frame = pd.DataFrame(
        {
            c.MENTOR_NIP: own[c.NIP].array,
            c.COMPETENCY_ID: own[c.COMPETENCY_ID].array,
            c.LEVEL: level,
            c.REQUIRED_LEVEL: required,
            STRENGTH: level - reference,
            c.ASSESSED_ON: own[c.ASSESSED_ON].to_numpy(),
            STALENESS_DAYS: own[STALENESS_DAYS].to_numpy(),
            N_ENDED_IN_COMPETENCY: n_in_comp,
        }
    )
    row = pd.Index(stats[c.MENTOR_NIP]).get_indexer(frame[c.MENTOR_NIP])
    return pd.concat([frame, stats[list(STATS_COLUMNS)].iloc[row].reset_index(drop=True)], axis=1)
