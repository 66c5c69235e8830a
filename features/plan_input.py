"""What the planner needs about employees at `as_of`, and its one-frame wire format.

`EmployeeView` is three frames (per employee, per employee x competency, completed/ongoing
courses). Models read the view; `to_plan_input` packs it into ONE frame (one row per employee,
lists as JSON strings) because an MLflow pyfunc and Spark's mapInPandas pass a single
DataFrame; `from_plan_input` unpacks it losslessly.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features import columns as c
from features.as_of import AsOfLike, tables_as_of
from features.build import FeatureSet
from features.competency import CURRENT_LEVEL, GAP, REQUIRED, STALENESS_DAYS, WEIGHTED_GAP
from features.level_estimates import LEVEL_MEAN, LEVEL_SD, level_estimates
from features.mentor_vectors import STATS_COLUMNS

COMPETENCIES_JSON = "competencies_json"
COMPLETED_JSON = "completed_json"
ONGOING_JSON = "ongoing_json"
AS_OF = "as_of"
#: Per-competency fields carried in the wire format (short keys keep the frame small).
_COMP_FIELDS = (
    (c.COMPETENCY_ID, "k"),
    (CURRENT_LEVEL, "cur"),
    (c.REQUIRED_LEVEL, "req"),
    (GAP, "gap"),
    (WEIGHTED_GAP, "wgap"),
    (STALENESS_DAYS, "stale"),
    (LEVEL_MEAN, "lm"),
    (LEVEL_SD, "lsd"),
)
COMPETENCY_VIEW_COLUMNS = (c.NIP,) + tuple(name for name, _ in _COMP_FIELDS)
#: View columns computed here rather than taken from the feature set.
_ESTIMATED = (LEVEL_MEAN, LEVEL_SD)


@dataclass(frozen=True)
class EmployeeView:
    """Employees at `as_of` as the models see them.

    - employees: one row per active employee: the evaluation vector, mentor track record
      (`features.mentor_vectors.STATS_COLUMNS`), supervisor_nip and tmt_cpns (seniority).
    - competency: one row per (employee, competency) with current level, required level, gap.
    - completed / ongoing: (nip, course_id) pairs; never recommended again.
    """

    as_of: pd.Timestamp
    employees: pd.DataFrame
    competency: pd.DataFrame
    completed: pd.DataFrame
    ongoing: pd.DataFrame

    def subset(self, nips: list[str] | np.ndarray | pd.Index) -> EmployeeView:
        """The view restricted to some employees (order of `nips`)."""
        wanted = pd.Index(nips)
        emp = self.employees.set_index(c.NIP, drop=False).reindex(wanted).dropna(subset=[c.NIP])
        keep = pd.Index(emp[c.NIP])

        def _rows(frame: pd.DataFrame) -> pd.DataFrame:
            return frame.loc[frame[c.NIP].isin(keep)].reset_index(drop=True)

        return EmployeeView(
            self.as_of,
            emp.reset_index(drop=True),
            _rows(self.competency),
            _rows(self.completed),
            _rows(self.ongoing),
        )


def split_view(view: EmployeeView, groups: Mapping[str, list[str]]) -> dict[str, EmployeeView]:
    """One view per group of NIPs, each frame grouped once.

    `subset` per group scans every frame each time (quadratic in the number of groups at
    national scale); this is one pass per frame. Within a group, employees keep view order.
    """
    key_of = {nip: key for key, nips in groups.items() for nip in nips}

    def _by_key(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
        keys = frame[c.NIP].astype(str).map(key_of)
        return {
            str(k): part.reset_index(drop=True)
            for k, part in frame.loc[keys.notna()].groupby(keys.dropna().to_numpy(), sort=False)
        }

    parts = [_by_key(f) for f in (view.employees, view.competency, view.completed, view.ongoing)]
    empty = [f.iloc[0:0] for f in (view.employees, view.competency, view.completed, view.ongoing)]
    return {
        key: EmployeeView(view.as_of, *(p.get(key, e) for p, e in zip(parts, empty, strict=True)))
        for key in groups
    }


def employee_view(
    tables: Mapping[str, pd.DataFrame], features: FeatureSet, as_of: AsOfLike | None = None
) -> EmployeeView:
    """Assemble the view from the typed tables and the features built at the same `as_of`."""
    t = tables_as_of(tables, features.as_of if as_of is None else as_of)
    if t.as_of != features.as_of:
        raise ValueError("features were built at another as_of")
    emp = features.evaluation.copy()
    base = t[c.EMPLOYEES].set_index(c.NIP)
    emp[c.SUPERVISOR_NIP] = base[c.SUPERVISOR_NIP].reindex(emp[c.NIP]).to_numpy()
    emp[c.TMT_CPNS] = base[c.TMT_CPNS].reindex(emp[c.NIP]).to_numpy()
    stats = features.mentor_stats
    stats_cols = [col for col in STATS_COLUMNS if col in stats.columns]
    if len(stats):
        idx = pd.Index(stats[c.MENTOR_NIP]).get_indexer(emp[c.NIP])
        for col in stats_cols:
            values = stats[col].to_numpy(dtype=np.float64, na_value=np.nan)
            emp[col] = np.where(idx >= 0, values[np.maximum(idx, 0)], np.nan)
    else:
        for col in stats_cols:
            emp[col] = np.nan

    taken = [col for col in COMPETENCY_VIEW_COLUMNS if col not in _ESTIMATED]
    comp = features.competency[taken].copy()
    estimates = level_estimates(t, t.as_of, comp[[c.NIP, c.COMPETENCY_ID, c.REQUIRED_LEVEL]])
    for col in _ESTIMATED:  # rounded as the wire format carries them: same pairs either way
        comp[col] = np.round(estimates[col].to_numpy(dtype=np.float64), 6)
    comp[REQUIRED] = features.competency[REQUIRED].to_numpy(dtype=bool)
    enr = t[c.ENROLLMENTS]
    active = pd.Index(emp[c.NIP])
    enr = enr.loc[enr[c.NIP].isin(active)]
    completed = _pairs(enr.loc[enr[c.STATUS] == "completed"])
    ongoing = _pairs(enr.loc[enr[c.STATUS] == "ongoing"])
    return EmployeeView(t.as_of, emp.reset_index(drop=True), comp, completed, ongoing)


def _pairs(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[[c.NIP, c.COURSE_ID]].drop_duplicates().reset_index(drop=True)


def _json_lists(keys: pd.Series, values: pd.Series, order: pd.Index) -> np.ndarray:
    grouped = values.groupby(keys.to_numpy(), sort=False).agg(list)
    lists = grouped.reindex(order)
    return np.array([json.dumps(v if isinstance(v, list) else []) for v in lists], dtype=object)


def to_plan_input(view: EmployeeView) -> pd.DataFrame:
    """One row per employee; lists as JSON strings (the pyfunc's input)."""
    frame = view.employees.copy()
    order = pd.Index(frame[c.NIP])
    comp = view.competency
    records = pd.Series(
        [
            json.dumps(dict(zip([short for _, short in _COMP_FIELDS], row, strict=True)))
            for row in zip(
                *[_plain(comp[name]) for name, _ in _COMP_FIELDS],
                strict=True,
            )
        ],
        dtype=object,
    )
    frame[COMPETENCIES_JSON] = (
        [
            "[" + ",".join(v) + "]" if isinstance(v, list) else "[]"
            for v in records.groupby(comp[c.NIP].to_numpy(), sort=False).agg(list).reindex(order)
        ]
        if len(comp)
        else ["[]"] * len(frame)
    )
    frame[COMPLETED_JSON] = _json_lists(view.completed[c.NIP], view.completed[c.COURSE_ID], order)
    frame[ONGOING_JSON] = _json_lists(view.ongoing[c.NIP], view.ongoing[c.COURSE_ID], order)
    frame[AS_OF] = view.as_of.strftime("%Y-%m-%d")
    frame[c.TMT_CPNS] = pd.to_datetime(frame[c.TMT_CPNS]).dt.strftime("%Y-%m-%d")
    for col in frame.columns:
        if frame[col].dtype == bool:
            continue
        if pd.api.types.is_string_dtype(frame[col]) or frame[col].dtype == object:
            frame[col] = frame[col].astype(object).where(frame[col].notna(), None)
    return frame.reset_index(drop=True)


def _plain(series: pd.Series) -> list:
    """Values as JSON-friendly Python scalars (NaN -> None)."""
    if pd.api.types.is_numeric_dtype(series):
        arr = series.to_numpy(dtype=np.float64, na_value=np.nan)
        return [None if np.isnan(v) else round(float(v), 6) for v in arr]
    return [None if pd.isna(v) else str(v) for v in series]


def from_plan_input(frame: pd.DataFrame) -> EmployeeView:
    """Inverse of `to_plan_input`."""
    if frame.empty:
        raise ValueError("plan input has no rows")
    as_of = pd.Timestamp(str(frame[AS_OF].iloc[0]))
    nips = frame[c.NIP].astype(str).to_numpy()
    employees = frame.drop(columns=[COMPETENCIES_JSON, COMPLETED_JSON, ONGOING_JSON, AS_OF])
    employees = employees.copy()
    employees[c.NIP] = nips
    employees[c.TMT_CPNS] = pd.to_datetime(employees[c.TMT_CPNS])
    comp_rows = []
    for nip, text in zip(nips, frame[COMPETENCIES_JSON], strict=True):
        for rec in json.loads(text):
            comp_rows.append((nip, *[rec.get(short) for _, short in _COMP_FIELDS]))
    competency = pd.DataFrame(comp_rows, columns=list(COMPETENCY_VIEW_COLUMNS))
    for name, _ in _COMP_FIELDS[1:]:
        competency[name] = competency[name].astype(np.float64)
    competency[REQUIRED] = competency[c.REQUIRED_LEVEL].notna()

    def _pairs_from(col: str) -> pd.DataFrame:
        rows = [
            (n, cid) for n, text in zip(nips, frame[col], strict=True) for cid in json.loads(text)
        ]
        return pd.DataFrame(rows, columns=[c.NIP, c.COURSE_ID])

    return EmployeeView(
        as_of, employees, competency, _pairs_from(COMPLETED_JSON), _pairs_from(ONGOING_JSON)
    )
