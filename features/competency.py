"""Competency vectors: each active employee's current level, required level and gap at `as_of`.

Levels come from the assessments visible at `as_of` (see `features.as_of`). Same-day
assessments of one competency (several methods, a 360 round) are averaged into one daily level,
and the latest day counts as the current level. The history is kept in integer codes so that
the course and mentor features can reuse it.

Never-assessed competencies: `current_level` stays NaN and `assessed` is False, while the gap
assumes the floor level (`MIN_LEVEL_VALUE` = 1 unless told otherwise). An unassessed required
competency is therefore a full gap, not a zero one: a plan should not skip it for lack of data.
Competencies that were assessed but are not required by the employee's position are listed with
`required=False`, `required_level` NaN and gap 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from features import columns as c
from features.as_of import (
    AsOfLike,
    day_number,
    days_since_epoch,
    days_to_datetime,
    tables_as_of,
)

# --- feature column names -----------------------------------------------------------------
CURRENT_LEVEL = "current_level"
STALENESS_DAYS = "staleness_days"
ASSESSED = "assessed"
REQUIRED = "required"
GAP = "gap"
GAP_WEIGHT = "gap_weight"
WEIGHTED_GAP = "weighted_gap"

GAP_COLUMNS = (
    c.NIP,
    c.COMPETENCY_ID,
    REQUIRED,
    c.REQUIRED_LEVEL,
    ASSESSED,
    CURRENT_LEVEL,
    c.ASSESSED_ON,
    STALENESS_DAYS,
    GAP,
    GAP_WEIGHT,
    WEIGHTED_GAP,
)


@dataclass(frozen=True)
class AssessmentHistory:
    """Visible assessments as codes: one row per (employee, competency, day), sorted by key, day.

    `key = nip_code * n_competencies + competency_code`, where codes are positions in `nips`
    (every employee hired by `as_of`) and `competency_ids` (the competencies table).
    """

    as_of: pd.Timestamp
    nips: pd.Index
    competency_ids: pd.Index
    key: np.ndarray
    day: np.ndarray
    level: np.ndarray

    @property
    def n_competencies(self) -> int:
        return len(self.competency_ids)

    def encode(
        self, nips: pd.Series | pd.Index, competency_ids: pd.Series | pd.Index
    ) -> np.ndarray:
        """Keys for (nip, competency) pairs; -1 where either is unknown."""
        ni = self.nips.get_indexer(nips)
        ci = self.competency_ids.get_indexer(competency_ids)
        return np.where((ni >= 0) & (ci >= 0), ni.astype(np.int64) * self.n_competencies + ci, -1)

    @cached_property
    def by_day(self) -> pd.DataFrame:
        """(key, day, level) sorted by day, the order `pd.merge_asof` needs; built once."""
        order = np.argsort(self.day, kind="stable")
        return pd.DataFrame(
            {"key": self.key[order], "day": self.day[order], "level": self.level[order]}
        )

    def latest(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(key, day, level) of the last assessed day of every key."""
        is_last = np.ones(len(self.key), dtype=bool)
        is_last[:-1] = self.key[1:] != self.key[:-1]
        return self.key[is_last], self.day[is_last], self.level[is_last]


def assessment_history(tables: Mapping[str, pd.DataFrame], as_of: AsOfLike) -> AssessmentHistory:
    """Daily mean level per (employee, competency) from the assessments visible at `as_of`."""
    t = tables_as_of(tables, as_of)
    nips = pd.Index(t[c.EMPLOYEES][c.NIP])
    competency_ids = pd.Index(t[c.COMPETENCIES][c.COMPETENCY_ID])
    assessments = t[c.ASSESSMENTS]
    n_comp = len(competency_ids)
    ni = nips.get_indexer(assessments[c.NIP])
    ci = competency_ids.get_indexer(assessments[c.COMPETENCY_ID])
    level = assessments[c.LEVEL].to_numpy(dtype=np.float64, na_value=np.nan)
    ok = (ni >= 0) & (ci >= 0) & ~np.isnan(level)
    key = ni[ok].astype(np.int64) * n_comp + ci[ok]
    day = days_since_epoch(assessments[c.ASSESSED_ON])[ok]
    level = level[ok]

    order = np.lexsort((day, key))
    key, day, level = key[order], day[order], level[order]
    if len(key):
        new = np.ones(len(key), dtype=bool)
        new[1:] = (key[1:] != key[:-1]) | (day[1:] != day[:-1])
        starts = np.flatnonzero(new)
        counts = np.diff(np.append(starts, len(key)))
        level = np.add.reduceat(level, starts) / counts
        key, day = key[starts], day[starts]
    return AssessmentHistory(t.as_of, nips, competency_ids, key, day, level)


def level_change(
    history: AssessmentHistory,
    keys: np.ndarray,
    start_day: np.ndarray,
    end_day: np.ndarray,
    *,
    window_days: int | None = 730,
) -> pd.DataFrame:
    """Level before and after events (a course, a mentorship) on each event's (nip, competency).

    Before = the last assessed day on or before `start_day`; after = the first assessed day on
    or after `end_day`, and strictly later than the before day (one assessment cannot be both).
    With `window_days`, an assessment further than that from the event is ignored: a level
    measured years earlier says little about what the event changed. Returns one row per event,
    in input order: level_before, level_after, change (NaN where either side is missing), and
    the day numbers of the two assessments (before_day, after_day).
    """
    n = len(keys)
    events = pd.DataFrame(
        {
            "key": np.asarray(keys, dtype=np.int64),
            "start": start_day,
            "end": end_day,
            "row": np.arange(n),
        }
    )
    events = events.loc[events["key"] >= 0]
    measured = history.by_day
    tolerance = None if window_days is None else int(window_days)

    before = pd.merge_asof(
        events.sort_values("start", kind="stable"),
        measured.rename(columns={"day": "before_day", "level": "level_before"}),
        left_on="start",
        right_on="before_day",
        by="key",
        direction="backward",
        tolerance=tolerance,
    )
    both = pd.merge_asof(
        before.sort_values("end", kind="stable"),
        measured.rename(columns={"day": "after_day", "level": "level_after"}),
        left_on="end",
        right_on="after_day",
        by="key",
        direction="forward",
        tolerance=tolerance,
    )
    level_before = np.full(n, np.nan)
    level_after = np.full(n, np.nan)
    rows = both["row"].to_numpy()
    level_before[rows] = both["level_before"].to_numpy(dtype=np.float64, na_value=np.nan)
    after = both["level_after"].to_numpy(dtype=np.float64, na_value=np.nan)
    before_day = both["before_day"].to_numpy(dtype=np.float64, na_value=np.nan)
    after_day = both["after_day"].to_numpy(dtype=np.float64, na_value=np.nan)
    distinct = np.isnan(before_day) | (after_day > before_day)
    level_after[rows] = np.where(distinct, after, np.nan)
    before_days = np.full(n, np.nan)
    after_days = np.full(n, np.nan)
    before_days[rows] = before_day
    after_days[rows] = np.where(distinct, after_day, np.nan)
    return pd.DataFrame(
        {
            "level_before": level_before,
            "level_after": level_after,
            "change": level_after - level_before,
            "before_day": before_days,
            "after_day": after_days,
        }
    )


def competency_gaps(
    tables: Mapping[str, pd.DataFrame],
    as_of: AsOfLike,
    *,
    history: AssessmentHistory | None = None,
    assumed_level: float = c.MIN_LEVEL_VALUE,
    kind_weights: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Long frame, one row per (active employee, competency) required by the position or assessed.

    gap = max(0, required_level - level), where level is the current level, or `assumed_level`
    when never assessed. The gap weight is `kind_weight * required_level / MAX_LEVEL_VALUE`: a gap
    in a competency the position needs at level 5 counts more than one it needs at level 2;
    `kind_weights` (by competency kind, default 1) lets a policy favour, e.g., `manajerial`.
    Rows are ordered as the employees table, then the competencies table.
    """
    t = tables_as_of(tables, as_of)
    if history is None:
        history = assessment_history(t, t.as_of)
    elif history.as_of != t.as_of:
        raise ValueError("history was built at another as_of")
    employees = t[c.EMPLOYEES]
    n_comp = history.n_competencies
    active = employees[c.ACTIVE].to_numpy(dtype=bool)

    # Requirements of each active employee's position.
    requirements = t[c.POSITION_REQUIREMENTS]
    active_codes = np.flatnonzero(active)
    per_employee = employees[[c.POSITION_ID]].iloc[active_codes].assign(_code=active_codes)
    req = per_employee.merge(
        requirements.assign(
            _ccode=history.competency_ids.get_indexer(requirements[c.COMPETENCY_ID])
        ),
        on=c.POSITION_ID,
        how="inner",
    )
    req = req.loc[req["_ccode"] >= 0]
    req_key = req["_code"].to_numpy(np.int64) * n_comp + req["_ccode"].to_numpy(np.int64)
    req_level = req[c.REQUIRED_LEVEL].to_numpy(dtype=np.float64)

    last_key, last_day, last_level = history.latest()
    is_active_key = active[last_key // n_comp] if len(last_key) else np.zeros(0, dtype=bool)
    last_key, last_day, last_level = (
        last_key[is_active_key],
        last_day[is_active_key],
        last_level[is_active_key],
    )

    # A sort beats np.union1d here: numpy 2's hash-based unique is several times slower.
    keys = np.sort(np.concatenate([req_key, last_key]))
    keys = keys[np.concatenate([[True], keys[1:] != keys[:-1]])] if len(keys) else keys
    required_level = np.full(len(keys), np.nan)
    required_level[np.searchsorted(keys, req_key)] = req_level
    current = np.full(len(keys), np.nan)
    day = np.zeros(len(keys), dtype=np.int64)
    at = np.searchsorted(keys, last_key)
    current[at] = last_level
    day[at] = last_day
    assessed = ~np.isnan(current)
    required = ~np.isnan(required_level)

    level_for_gap = np.where(assessed, current, float(assumed_level))
    gap = np.where(required, np.maximum(0.0, required_level - level_for_gap), 0.0)
    comp_code = keys % n_comp
    kind_weight = np.ones(n_comp)
    if kind_weights:
        kinds = t[c.COMPETENCIES][c.KIND].to_numpy(dtype=object)
        kind_weight = np.array([float(kind_weights.get(k, 1.0)) for k in kinds], dtype=np.float64)
    weight = np.where(required, kind_weight[comp_code] * required_level / c.MAX_LEVEL_VALUE, 0.0)
    staleness = np.where(assessed, day_number(t.as_of) - day, np.nan)

    return pd.DataFrame(
        {
            c.NIP: history.nips.take(keys // n_comp).array,
            c.COMPETENCY_ID: history.competency_ids.take(comp_code).array,
            REQUIRED: required,
            c.REQUIRED_LEVEL: required_level,
            ASSESSED: assessed,
            CURRENT_LEVEL: current,
            c.ASSESSED_ON: days_to_datetime(day, assessed),
            STALENESS_DAYS: staleness,
            GAP: gap,
            GAP_WEIGHT: weight,
            WEIGHTED_GAP: gap * weight,
        },
        columns=list(GAP_COLUMNS),
    )


@dataclass(frozen=True)
class CompetencyMatrices:
    """Dense employees x competencies arrays for fast models.

    `current` is NaN where never assessed, `required` is 0 where the position does not require
    the competency, `gap` follows `competency_gaps` (0 where not required).
    """

    nips: np.ndarray
    competency_ids: np.ndarray
    nip_index: dict[str, int]
    competency_index: dict[str, int]
    current: np.ndarray
    required: np.ndarray
    gap: np.ndarray
    weighted_gap: np.ndarray
    assessed: np.ndarray


def competency_matrices(
    gaps: pd.DataFrame,
    *,
    nips: Sequence[str] | None = None,
    competency_ids: Sequence[str] | None = None,
) -> CompetencyMatrices:
    """Pivot a `competency_gaps` frame into dense matrices.

    Rows are `nips` (default: the frame's employees in first-seen order) and columns
    `competency_ids` (default: the frame's competencies, sorted); pairs absent from the frame
    are not required and not assessed.
    """
    row_ids = pd.Index(pd.unique(gaps[c.NIP]) if nips is None else pd.Index(nips))
    col_ids = pd.Index(
        np.sort(pd.unique(gaps[c.COMPETENCY_ID]).astype(object))
        if competency_ids is None
        else competency_ids
    )
    ri = row_ids.get_indexer(gaps[c.NIP])
    ci = col_ids.get_indexer(gaps[c.COMPETENCY_ID])
    keep = (ri >= 0) & (ci >= 0)
    ri, ci = ri[keep], ci[keep]
    shape = (len(row_ids), len(col_ids))

    def dense(column: str, fill: float) -> np.ndarray:
        out = np.full(shape, fill, dtype=np.float64)
        out[ri, ci] = gaps[column].to_numpy(dtype=np.float64, na_value=np.nan)[keep]
        return out

    required = dense(c.REQUIRED_LEVEL, 0.0)
    np.nan_to_num(required, copy=False, nan=0.0)
    assessed = np.zeros(shape, dtype=bool)
    assessed[ri, ci] = gaps[ASSESSED].to_numpy(dtype=bool)[keep]
    row_array = np.asarray(row_ids, dtype=object)
    col_array = np.asarray(col_ids, dtype=object)
    return CompetencyMatrices(
        nips=row_array,
        competency_ids=col_array,
        nip_index={nip: i for i, nip in enumerate(row_array)},
        competency_index={comp: j for j, comp in enumerate(col_array)},
        current=dense(CURRENT_LEVEL, np.nan),
        required=required,
        gap=dense(GAP, 0.0),
        weighted_gap=dense(WEIGHTED_GAP, 0.0),
        assessed=assessed,
    )
