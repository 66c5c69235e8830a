"""Course vectors: the catalogue with what history says about each course at `as_of`.

Observed effect of a course on one of its competencies: over completed enrollments, the
participant's level on the first assessed day on or after the course's end minus the level on
the last assessed day on or before its start (`features.competency.level_change`, within
`effect_window_days`). It is an observational before/after change (it includes whatever else
happened meanwhile), so it is reported with its count and shrunk toward the mean change over all
courses: `(sum + k * global_mean) / (n + k)`; with no observation anywhere the prior is 0.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from features import columns as c
from features.as_of import AsOfLike, days_since_epoch, tables_as_of
from features.competency import AssessmentHistory, assessment_history, level_change
from features.evaluation import smoothed_rate, status_masks

# --- feature column names -----------------------------------------------------------------
N_EFFECT = "n_effect"
EFFECT_MEAN = "effect_mean"
EFFECT_SHRUNK = "effect_shrunk"
N_ENROLLED = "n_enrolled"
N_ONGOING = "n_ongoing"
N_RESOLVED = "n_resolved"
N_COMPLETED = "n_completed"
COMPLETION_RATE = "completion_rate"
COMPLETION_RATE_SMOOTHED = "completion_rate_smoothed"
MEAN_SCORE = "mean_score"
N_SCORED = "n_scored"
N_COMPETENCIES = "n_competencies"
MEAN_EFFECT_SHRUNK = "mean_effect_shrunk"


def course_effects(
    tables: Mapping[str, pd.DataFrame],
    as_of: AsOfLike,
    *,
    history: AssessmentHistory | None = None,
    prior_strength: float = 5.0,
    effect_window_days: int | None = 730,
) -> pd.DataFrame:
    """Competency bands of every course with observed effects (long, course_competencies order).

    Columns: course_id, competency_id, min_level, target_level, n_effect, effect_mean (raw,
    NaN when n_effect = 0), effect_shrunk.
    """
    t = tables_as_of(tables, as_of)
    if history is None:
        history = assessment_history(t, t.as_of)
    bands = t[c.COURSE_COMPETENCIES][[c.COURSE_ID, c.COMPETENCY_ID, c.MIN_LEVEL, c.TARGET_LEVEL]]
    bands = bands.reset_index(drop=True)

    enrollments = t[c.ENROLLMENTS]
    done = (enrollments[c.STATUS] == "completed").to_numpy(dtype=bool) & enrollments[
        c.END_DATE
    ].notna().to_numpy()
    done_rows = enrollments.loc[done]
    course_ids = pd.Index(t[c.COURSES][c.COURSE_ID])
    events = pd.DataFrame(
        {
            "_course": course_ids.get_indexer(done_rows[c.COURSE_ID]),
            "_nip": history.nips.get_indexer(done_rows[c.NIP]),
            "_start": days_since_epoch(done_rows[c.START_DATE]),
            "_end": days_since_epoch(done_rows[c.END_DATE]),
        }
    )
    band_codes = pd.DataFrame(
        {
            "_course": course_ids.get_indexer(bands[c.COURSE_ID]),
            "_comp": history.competency_ids.get_indexer(bands[c.COMPETENCY_ID]),
            "_band": np.arange(len(bands)),
        }
    )
    pairs = events.merge(band_codes, on="_course", how="inner")
    valid = (pairs["_nip"] >= 0) & (pairs["_comp"] >= 0)
    pairs = pairs.loc[valid]
    keys = pairs["_nip"].to_numpy(np.int64) * history.n_competencies + pairs["_comp"].to_numpy(
        np.int64
    )
    change = level_change(
        history,
        keys,
        pairs["_start"].to_numpy(),
        pairs["_end"].to_numpy(),
        window_days=effect_window_days,
    )["change"].to_numpy()
    observed = ~np.isnan(change)
    band = pairs["_band"].to_numpy()[observed]
    n = np.bincount(band, minlength=len(bands))
    total = np.bincount(band, change[observed], minlength=len(bands))
    prior = change[observed].mean() if observed.any() else 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        raw = np.where(n > 0, total / n, np.nan)
    return bands.assign(
        **{
            N_EFFECT: n,
            EFFECT_MEAN: raw,
            EFFECT_SHRUNK: smoothed_rate(total, n, prior, prior_strength),
        }
    )


def course_vectors(
    tables: Mapping[str, pd.DataFrame],
    as_of: AsOfLike,
    *,
    effects: pd.DataFrame | None = None,
    history: AssessmentHistory | None = None,
    prior_strength: float = 5.0,
) -> pd.DataFrame:
    """One row per course (courses-table order): catalogue columns and observed history.

    Enrollment counts cover enrollments started by `as_of`; the completion rate is over the
    resolved ones (raw, and smoothed toward the global completion rate); the mean post-test
    score is over completed enrollments with a score. `mean_effect_shrunk` averages the
    course's competency effects (NaN for a course without competencies).
    """
    t = tables_as_of(tables, as_of)
    if effects is None:
        effects = course_effects(t, t.as_of, history=history, prior_strength=prior_strength)
    courses = t[c.COURSES]
    course_ids = pd.Index(courses[c.COURSE_ID])
    n_courses = len(course_ids)
    enrollments = t[c.ENROLLMENTS]
    code = course_ids.get_indexer(enrollments[c.COURSE_ID])
    ok = code >= 0
    code = code[ok]
    is_status = status_masks(enrollments[c.STATUS], ok)
    score = enrollments[c.SCORE].to_numpy(dtype=np.float64, na_value=np.nan)[ok]

    resolved = ~is_status["ongoing"]
    completed = is_status["completed"]
    scored = completed & ~np.isnan(score)
    n_res = np.bincount(code[resolved], minlength=n_courses)
    n_done = np.bincount(code[completed], minlength=n_courses)
    n_scored = np.bincount(code[scored], minlength=n_courses)
    score_sum = np.bincount(code[scored], score[scored], minlength=n_courses)
    prior = n_done.sum() / n_res.sum() if n_res.sum() else np.nan

    effect_code = course_ids.get_indexer(effects[c.COURSE_ID])
    effect_ok = effect_code >= 0
    n_comp = np.bincount(effect_code[effect_ok], minlength=n_courses)
    effect_sum = np.bincount(
        effect_code[effect_ok],
        effects[EFFECT_SHRUNK].to_numpy(dtype=np.float64)[effect_ok],
        minlength=n_courses,
    )
    n_effect = np.bincount(
        effect_code[effect_ok],
        effects[N_EFFECT].to_numpy(np.float64)[effect_ok],
        minlength=n_courses,
    ).astype(np.int64)

    with np.errstate(invalid="ignore", divide="ignore"):
        return pd.DataFrame(
            {
                c.COURSE_ID: courses[c.COURSE_ID].array,
                c.TITLE: courses[c.TITLE].array,
                c.PROVIDER: courses[c.PROVIDER].array,
                c.MODE: courses[c.MODE].array,
                c.HOURS_JP: courses[c.HOURS_JP].to_numpy(),
                c.ACTIVE: courses[c.ACTIVE].to_numpy(dtype=bool),
                N_ENROLLED: np.bincount(code, minlength=n_courses),
                N_ONGOING: np.bincount(code[~resolved], minlength=n_courses),
                N_RESOLVED: n_res,
                N_COMPLETED: n_done,
                COMPLETION_RATE: np.where(n_res > 0, n_done / n_res, np.nan),
                COMPLETION_RATE_SMOOTHED: smoothed_rate(n_done, n_res, prior, prior_strength),
                N_SCORED: n_scored,
                MEAN_SCORE: np.where(n_scored > 0, score_sum / n_scored, np.nan),
                N_COMPETENCIES: n_comp,
                N_EFFECT: n_effect,
                MEAN_EFFECT_SHRUNK: np.where(n_comp > 0, effect_sum / n_comp, np.nan),
            }
        )
