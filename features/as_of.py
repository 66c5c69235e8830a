"""Point-in-time view of the typed tables: what HR could have known on the morning after `as_of`.

Every feature builder goes through `tables_as_of`, so no feature can see a row dated after
`as_of`. The cut, table by table:

- employees: kept when `tmt_cpns <= as_of` (not yet hired means not yet known). Their other
  columns (position, unit, golongan, `active`) are a snapshot: the contract keeps no history
  of them, so they are used as given. A `supervisor_nip` naming an employee not yet hired is
  blanked.
- assessments: `assessed_on <= as_of`.
- performance_reviews: the SKP of year Y is kept when its year has ended, i.e. 31 December Y
  <= as_of. A yearly rating is only settled after its year closes; keeping the running year
  would hand a model a rating that did not exist yet.
- enrollments: `start_date <= as_of`. The outcome (status, end_date, score) is visible only
  once the enrollment was resolved by `as_of`: resolved on its `end_date`, or for a `no_show`
  without an end date on its `start_date` (a no-show is known on the first day). Otherwise the
  row is shown as `ongoing` with no end date and no score. A `dropped`/`completed` row with no
  end date cannot be dated and stays `ongoing`.
- mentorships: `start_date <= as_of`; `end_date` and `outcome` visible only when
  `end_date <= as_of`, otherwise the mentorship is ongoing (NaT, <NA>).
- Rows that reference an employee not yet hired are dropped with that employee.
- units, competencies, positions, requirements, courses and their bands and prerequisites carry
  no dates and are kept whole: they describe the catalogue and organisation as loaded.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TypeAlias

import numpy as np
import pandas as pd

from features import columns as c
from features.io import empty_table

AsOfLike: TypeAlias = str | dt.date | dt.datetime | pd.Timestamp | np.datetime64

_ONGOING = "ongoing"
_NO_SHOW = "no_show"


class AsOfTables(dict):
    """Typed tables cut at `as_of`; still a plain dict of name -> DataFrame for callers.

    Carrying `as_of` lets a builder that receives already-cut tables skip cutting again, so
    `build_features` cuts once and every stage shares the result.
    """

    def __init__(self, tables: Mapping[str, pd.DataFrame], as_of: pd.Timestamp) -> None:
        super().__init__(tables)
        self.as_of = as_of


def to_as_of(value: AsOfLike) -> pd.Timestamp:
    """A date-like value as a naive midnight `Timestamp` (the contract's dates are whole days)."""
    ts = pd.Timestamp(value)
    if pd.isna(ts):
        raise ValueError("as_of must be a date, got a missing value")
    if ts.tz is not None:
        ts = ts.tz_convert(None)
    return ts.normalize()


def tables_as_of(tables: Mapping[str, pd.DataFrame], as_of: AsOfLike) -> AsOfTables:
    """Return the tables as known at `as_of` (see the module docstring for the rules).

    Idempotent: tables already cut at the same date are returned as they are. Cutting tables
    that were cut at an earlier date to a later one is refused, because the hidden outcomes
    cannot be recovered.
    """
    as_of = to_as_of(as_of)
    if isinstance(tables, AsOfTables):
        if tables.as_of == as_of:
            return tables
        if tables.as_of < as_of:
            raise ValueError(
                f"tables were cut at {tables.as_of.date()}, cannot view them at {as_of.date()}"
            )
    missing = [name for name in c.ALL_TABLES if name not in tables]
    required_missing = [name for name in missing if name not in c.OPTIONAL_TABLES]
    if required_missing:
        raise KeyError(f"required tables missing: {', '.join(required_missing)}")
    out: dict[str, pd.DataFrame] = {
        name: tables.get(name, empty_table(name)) for name in c.ALL_TABLES
    }

    employees = out[c.EMPLOYEES]
    employees = employees.loc[employees[c.TMT_CPNS] <= as_of].reset_index(drop=True)
    known = pd.Index(employees[c.NIP])
    supervisor_known = known.get_indexer(employees[c.SUPERVISOR_NIP]) >= 0
    if not supervisor_known.all():
        employees[c.SUPERVISOR_NIP] = employees[c.SUPERVISOR_NIP].where(supervisor_known)
    out[c.EMPLOYEES] = employees

    out[c.ASSESSMENTS] = _rows(
        out[c.ASSESSMENTS], (out[c.ASSESSMENTS][c.ASSESSED_ON] <= as_of), known, (c.NIP,)
    )
    reviews = out[c.PERFORMANCE_REVIEWS]
    # 31 Dec Y <= as_of  <=>  Y < year of the day after as_of.
    last_closed_year = (as_of + pd.Timedelta(days=1)).year - 1
    out[c.PERFORMANCE_REVIEWS] = _rows(
        reviews, reviews[c.YEAR] <= last_closed_year, known, (c.NIP,)
    )
    out[c.ENROLLMENTS] = _enrollments_as_of(out[c.ENROLLMENTS], as_of, known)
    out[c.MENTORSHIPS] = _mentorships_as_of(out[c.MENTORSHIPS], as_of, known)
    return AsOfTables(out, as_of)


def _rows(
    frame: pd.DataFrame, keep: pd.Series, known: pd.Index, nip_columns: tuple[str, ...]
) -> pd.DataFrame:
    """Rows passing `keep` whose NIP columns all name a known (already hired) employee."""
    mask = keep.to_numpy(dtype=bool, na_value=False)
    for col in nip_columns:
        mask = mask & (known.get_indexer(frame[col]) >= 0)
    return frame.loc[mask].reset_index(drop=True)


def _enrollments_as_of(frame: pd.DataFrame, as_of: pd.Timestamp, known: pd.Index) -> pd.DataFrame:
    frame = _rows(frame, frame[c.START_DATE] <= as_of, known, (c.NIP,))
    resolved_on = frame[c.END_DATE].where(
        frame[c.END_DATE].notna(), frame[c.START_DATE].where(frame[c.STATUS] == _NO_SHOW)
    )
    visible = (resolved_on <= as_of).to_numpy(dtype=bool, na_value=False)
    if visible.all():
        return frame
    hidden = pd.Series(~visible, index=frame.index)
    return frame.assign(
        **{
            c.STATUS: frame[c.STATUS].mask(hidden, _ONGOING),
            c.END_DATE: frame[c.END_DATE].mask(hidden),
            c.SCORE: frame[c.SCORE].mask(hidden),
        }
    )


def _mentorships_as_of(frame: pd.DataFrame, as_of: pd.Timestamp, known: pd.Index) -> pd.DataFrame:
    frame = _rows(frame, frame[c.START_DATE] <= as_of, known, (c.MENTOR_NIP, c.MENTEE_NIP))
    ended = (frame[c.END_DATE] <= as_of).to_numpy(dtype=bool, na_value=False)
    if ended.all():
        return frame
    hidden = pd.Series(~ended, index=frame.index)
    return frame.assign(
        **{c.END_DATE: frame[c.END_DATE].mask(hidden), c.OUTCOME: frame[c.OUTCOME].mask(hidden)}
    )


def days_since_epoch(values: pd.Series | pd.Index | np.ndarray) -> np.ndarray:
    """Dates as int64 day numbers (whatever the datetime unit); NaT becomes INT64 min."""
    return np.asarray(values).astype("datetime64[D]").astype(np.int64)


def day_number(as_of: pd.Timestamp) -> int:
    """`as_of` as an int64 day number, matching `days_since_epoch`."""
    return int(np.datetime64(as_of.date(), "D").astype(np.int64))


def days_to_datetime(days: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Inverse of `days_since_epoch`, with NaT where `valid` is False (datetime64[ns])."""
    out = days.astype("datetime64[D]").astype("datetime64[ns]")
    out[~valid] = np.datetime64("NaT")
    return out


def latest_date(tables: Mapping[str, pd.DataFrame]) -> pd.Timestamp:
    """The last day a dataset knows about: the default `as_of` of training, plans and serving."""
    candidates = [
        tables[c.ASSESSMENTS][c.ASSESSED_ON].max(),
        tables[c.ENROLLMENTS][c.START_DATE].max(),
        tables[c.ENROLLMENTS][c.END_DATE].max(),
    ]
    if len(tables[c.MENTORSHIPS]):
        candidates.append(tables[c.MENTORSHIPS][c.START_DATE].max())
    values = [pd.Timestamp(v) for v in candidates if pd.notna(v)]
    if not values:
        raise ValueError("the dataset has no dated history (assessments or enrollments)")
    return max(values).normalize()
