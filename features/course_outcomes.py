"""What was observed after courses, row by row: the evidence a benefit estimate is built on.

Two frames, both as known at `as_of` (`features.as_of`):
- `observed_level_changes`: one row per completed enrollment x competency of the course with a
  level measured before and after it (`features.competency.level_change`): the participant's
  level before, the course's band, the course's hours, and the change;
- `resolved_enrollments`: one row per enrollment that ended (completed, dropped, no-show), with
  1/0 completion. Ongoing enrollments have no outcome yet and are left out;
- `course_post_tests`: per course, the mean post-test score of its completed enrollments and
  how many there are (post-tests measure what was learnt in the course itself);
- `untrained_level_changes`: how levels moved over yearly windows for (employee, competency)
  pairs without a course on it (drift, regression to the mean of noisy assessments): what a
  course's observed change is compared against.

Observational, not experimental: a level change after a course also holds whatever else
happened meanwhile; the estimator that uses them shrinks and says so.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from features import columns as c
from features.as_of import AsOfLike, days_since_epoch, tables_as_of
from features.competency import AssessmentHistory, assessment_history, level_change

LEVEL_BEFORE = "level_before"
CHANGE = "change"
COMPLETED = "completed"
#: Completed courses on the same competency between the same two assessments: the change is
#: theirs together, so each is credited with its share.
N_SHARING = "n_sharing"


def observed_level_changes(
    tables: Mapping[str, pd.DataFrame],
    as_of: AsOfLike,
    *,
    history: AssessmentHistory | None = None,
    window_days: int | None = 730,
) -> pd.DataFrame:
    """nip, course_id, competency_id, min_level, target_level, hours_jp, level_before, change,
    n_sharing (completed courses on the competency between the same two assessments)."""
    t = tables_as_of(tables, as_of)
    if history is None:
        history = assessment_history(t, t.as_of)
    enr = t[c.ENROLLMENTS]
    done = (enr[c.STATUS] == "completed").to_numpy(dtype=bool) & enr[c.END_DATE].notna().to_numpy()
    rows = enr.loc[done, [c.NIP, c.COURSE_ID, c.START_DATE, c.END_DATE]]
    bands = t[c.COURSE_COMPETENCIES][[c.COURSE_ID, c.COMPETENCY_ID, c.MIN_LEVEL, c.TARGET_LEVEL]]
    pairs = rows.merge(bands, on=c.COURSE_ID, how="inner", sort=False)
    hours = t[c.COURSES].set_index(c.COURSE_ID)[c.HOURS_JP]
    keys = history.nips.get_indexer(pairs[c.NIP]).astype(np.int64)
    comp = history.competency_ids.get_indexer(pairs[c.COMPETENCY_ID]).astype(np.int64)
    valid = (keys >= 0) & (comp >= 0)
    encoded = np.where(valid, keys * history.n_competencies + comp, -1)
    change = level_change(
        history,
        encoded,
        days_since_epoch(pairs[c.START_DATE]),
        days_since_epoch(pairs[c.END_DATE]),
        window_days=window_days,
    )
    out = pd.DataFrame(
        {
            c.NIP: pairs[c.NIP].to_numpy(),
            c.COURSE_ID: pairs[c.COURSE_ID].to_numpy(),
            c.COMPETENCY_ID: pairs[c.COMPETENCY_ID].to_numpy(),
            c.MIN_LEVEL: pairs[c.MIN_LEVEL].to_numpy(dtype=float),
            c.TARGET_LEVEL: pairs[c.TARGET_LEVEL].to_numpy(dtype=float),
            c.HOURS_JP: hours.reindex(pairs[c.COURSE_ID]).to_numpy(dtype=float),
            LEVEL_BEFORE: change["level_before"].to_numpy(dtype=float),
            CHANGE: change["change"].to_numpy(dtype=float),
            "_before": change["before_day"].to_numpy(dtype=float),
            "_after": change["after_day"].to_numpy(dtype=float),
        }
    )
    out = out.loc[out[CHANGE].notna()]
    interval = [c.NIP, c.COMPETENCY_ID, "_before", "_after"]
    out[N_SHARING] = out.groupby(interval, sort=False)[CHANGE].transform("size")
    return out.drop(columns=["_before", "_after"]).reset_index(drop=True)


def resolved_enrollments(tables: Mapping[str, pd.DataFrame], as_of: AsOfLike) -> pd.DataFrame:
    """nip, course_id, completed (1/0) of every enrollment resolved by `as_of`."""
    t = tables_as_of(tables, as_of)
    enr = t[c.ENROLLMENTS]
    resolved = enr.loc[(enr[c.STATUS] != "ongoing").to_numpy(dtype=bool)]
    return pd.DataFrame(
        {
            c.NIP: resolved[c.NIP].astype(str).to_numpy(),
            c.COURSE_ID: resolved[c.COURSE_ID].astype(str).to_numpy(),
            COMPLETED: (resolved[c.STATUS] == "completed").to_numpy(dtype=np.int64),
        }
    )


def untrained_level_changes(
    tables: Mapping[str, pd.DataFrame], as_of: AsOfLike, *, years: int = 3
) -> pd.DataFrame:
    """level_before, change of untrained (employee, competency) pairs over the last `years`
    yearly windows ending at `as_of` (`features.labels.level_changes`)."""
    from features.labels import TRAINED, level_changes

    end = pd.Timestamp(tables_as_of(tables, as_of).as_of)
    frames = []
    for k in range(years):
        hi = end - pd.Timedelta(days=365 * k)
        lo = hi - pd.Timedelta(days=365)
        moved = level_changes(tables, lo, hi)
        frames.append(moved.loc[~moved[TRAINED].to_numpy(dtype=bool), [LEVEL_BEFORE, CHANGE]])
    return pd.concat(frames, ignore_index=True)


MEAN_SCORE = "mean_score"
N_SCORED = "n_scored"


def course_post_tests(tables: Mapping[str, pd.DataFrame], as_of: AsOfLike) -> pd.DataFrame:
    """course_id, mean_score, n_scored over completed enrollments with a post-test score."""
    t = tables_as_of(tables, as_of)
    enr = t[c.ENROLLMENTS]
    scored = enr.loc[(enr[c.STATUS] == "completed").to_numpy(dtype=bool) & enr[c.SCORE].notna()]
    grouped = scored.groupby(scored[c.COURSE_ID].astype(str))[c.SCORE]
    return (
        pd.DataFrame(
            {MEAN_SCORE: grouped.mean().astype(float), N_SCORED: grouped.size().astype(np.int64)}
        )
        .rename_axis(c.COURSE_ID)
        .reset_index()
    )
