"""Post-test value added per course (`course_score_effects`) and the readiness it adjusts for.

A level change is observed only when someone is assessed before and after a course, while a
post-test score is recorded for nearly every completion: the value-added model of education
research turns those scores into a per-course effect, crediting a course neither for strong
participants nor blaming it for underprepared ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from features import columns as c
from features.as_of import AsOfLike, days_since_epoch
from features.competency import assessment_history, level_change


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
