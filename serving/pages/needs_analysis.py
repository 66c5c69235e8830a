"""Training-needs analysis (analisis kebutuhan pelatihan) of a group of employees, pure.

Three answers a training unit asks of a work unit:
- which competencies are most lacking (`competency_needs`);
- how many people each course of the plans serves (`course_reach`);
- which gaps no active course covers well, i.e. the modules to commission from partner
  universities (`uncovered_gaps` per employee, `modules_to_commission` grouped).

A gap from level `current` to `required` is covered when the active courses' bands for that
competency chain from the current level up to the required one: a course band
(min_level -> target_level) is usable from a level `l` when `min_level <= l + tolerance`, so
someone at 2.6 may join a course for level 3 -> 4, and the bands reached from there count in
turn. An unassessed competency starts at the floor level, as in `features.competency`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from features import columns as c
from features.competency import CURRENT_LEVEL, GAP, REQUIRED

N_REQUIRED = "n_required"
N_GAP = "n_gap"
SHARE_GAP = "share_gap"
MEAN_GAP = "mean_gap"
TOTAL_GAP = "total_gap"
N_UNASSESSED = "n_unassessed"
N_EMPLOYEES = "n_employees"
TOTAL_JP = "total_jp"
COMPETENCY_IDS = "competency_ids"
START_LEVEL = "start_level"
REACHED_LEVEL = "reached_level"
COVERED = "covered"
FROM_LEVEL = "from_level"
TO_LEVEL = "to_level"
HAS_ACTIVE_COURSE = "has_active_course"

#: How far below a course's min_level a participant may start (in levels).
DEFAULT_ENTRY_TOLERANCE = 0.5

_EPS = 1e-9


def _open_gaps(competency: pd.DataFrame) -> pd.DataFrame:
    required = competency[REQUIRED].to_numpy(dtype=bool, na_value=False)
    gap = competency[GAP].to_numpy(dtype=np.float64, na_value=0.0)
    keep = required & competency[c.REQUIRED_LEVEL].notna().to_numpy() & (gap > _EPS)
    return competency.loc[keep]


def competency_needs(competency: pd.DataFrame) -> pd.DataFrame:
    """Per competency required of the group: how many lack it and by how much.

    Input: rows of `EmployeeView.competency` (nip, competency_id, current_level,
    required_level, gap, required). Sorted by total gap (levels missing summed over people),
    then by the number of people with a gap.
    """
    required = competency.loc[competency[REQUIRED].to_numpy(dtype=bool, na_value=False)]
    required = required.loc[required[c.REQUIRED_LEVEL].notna()]
    gap = required[GAP].to_numpy(dtype=np.float64, na_value=0.0)
    frame = pd.DataFrame(
        {
            c.COMPETENCY_ID: required[c.COMPETENCY_ID].astype(str).to_numpy(),
            "has_gap": gap > _EPS,
            "gap": np.where(gap > _EPS, gap, 0.0),
            "unassessed": required[CURRENT_LEVEL].isna().to_numpy(),
        }
    )
    grouped = frame.groupby(c.COMPETENCY_ID, sort=True)
    out = pd.DataFrame(
        {
            N_REQUIRED: grouped.size(),
            N_GAP: grouped["has_gap"].sum().astype(np.int64),
            TOTAL_GAP: grouped["gap"].sum(),
            N_UNASSESSED: grouped["unassessed"].sum().astype(np.int64),
        }
    )
    out[SHARE_GAP] = out[N_GAP] / out[N_REQUIRED]
    with np.errstate(invalid="ignore", divide="ignore"):
        out[MEAN_GAP] = np.where(out[N_GAP] > 0, out[TOTAL_GAP] / out[N_GAP], 0.0)
    out = out.reset_index().astype({c.COMPETENCY_ID: "str"})
    out = out.sort_values(
        [TOTAL_GAP, N_GAP, c.COMPETENCY_ID], ascending=[False, False, True], kind="stable"
    )
    columns = [c.COMPETENCY_ID, N_REQUIRED, N_GAP, SHARE_GAP, MEAN_GAP, TOTAL_GAP, N_UNASSESSED]
    return out[columns].reset_index(drop=True)


def course_reach(paths: Mapping[str, Sequence[Mapping[str, Any]]]) -> pd.DataFrame:
    """Per course in the plans: how many employees it serves and the JP that amounts to.

    `paths` maps NIP -> training path steps (dicts with course_id, title, hours_jp,
    competency_ids). Sorted by people served, then course id.
    """
    rows: dict[str, dict[str, Any]] = {}
    for steps in paths.values():
        for step in {str(s[c.COURSE_ID]): s for s in steps}.values():
            course = str(step[c.COURSE_ID])
            row = rows.setdefault(
                course,
                {
                    c.COURSE_ID: course,
                    c.TITLE: str(step.get(c.TITLE) or ""),
                    c.HOURS_JP: int(step.get(c.HOURS_JP) or 0),
                    COMPETENCY_IDS: ", ".join(step.get(COMPETENCY_IDS) or ()),
                    N_EMPLOYEES: 0,
                },
            )
            row[N_EMPLOYEES] += 1
    columns = [c.COURSE_ID, c.TITLE, c.HOURS_JP, COMPETENCY_IDS, N_EMPLOYEES, TOTAL_JP]
    if not rows:
        return pd.DataFrame({col: pd.Series([], dtype=_REACH_DTYPES[col]) for col in columns})
    out = pd.DataFrame(list(rows.values()))
    out[TOTAL_JP] = out[N_EMPLOYEES] * out[c.HOURS_JP]
    out = out.sort_values([N_EMPLOYEES, c.COURSE_ID], ascending=[False, True], kind="stable")
    return out[columns].reset_index(drop=True).astype(_REACH_DTYPES)


_REACH_DTYPES = {
    c.COURSE_ID: "str",
    c.TITLE: "str",
    c.HOURS_JP: "int64",
    COMPETENCY_IDS: "str",
    N_EMPLOYEES: "int64",
    TOTAL_JP: "int64",
}


def reachable_level(
    start: float,
    bands: Iterable[tuple[float, float]],
    tolerance: float = DEFAULT_ENTRY_TOLERANCE,
) -> float:
    """The highest level a chain of course bands (min_level, target_level) lifts `start` to."""
    reached = float(start)
    ordered = sorted(bands)
    progress = True
    while progress:
        progress = False
        for low, target in ordered:
            if low > reached + tolerance + _EPS:
                break
            if target > reached + _EPS:
                reached = float(target)
                progress = True
    return reached


def uncovered_gaps(
    competency: pd.DataFrame,
    course_bands: pd.DataFrame,
    *,
    tolerance: float = DEFAULT_ENTRY_TOLERANCE,
    floor_level: float = c.MIN_LEVEL_VALUE,
) -> pd.DataFrame:
    """Every open gap with the level the active courses reach and whether that closes it.

    `course_bands`: (course_id, competency_id, min_level, target_level) of ACTIVE courses only.
    """
    gaps = _open_gaps(competency)
    by_comp: dict[str, list[tuple[float, float]]] = {}
    for comp, low, target in zip(
        course_bands[c.COMPETENCY_ID].astype(str).tolist(),
        course_bands[c.MIN_LEVEL].astype(float).tolist(),
        course_bands[c.TARGET_LEVEL].astype(float).tolist(),
        strict=True,
    ):
        by_comp.setdefault(comp, []).append((low, target))
    comps = gaps[c.COMPETENCY_ID].astype(str).tolist()
    current = gaps[CURRENT_LEVEL].to_numpy(dtype=np.float64, na_value=np.nan)
    start = np.where(np.isnan(current), float(floor_level), current)
    required = gaps[c.REQUIRED_LEVEL].to_numpy(dtype=np.float64)
    reached = np.array(
        [
            reachable_level(s, by_comp.get(k, ()), tolerance)
            for s, k in zip(start.tolist(), comps, strict=True)
        ],
        dtype=np.float64,
    )
    return pd.DataFrame(
        {
            c.NIP: gaps[c.NIP].astype(str).to_numpy(),
            c.COMPETENCY_ID: np.asarray(comps, dtype=object),
            START_LEVEL: start,
            c.REQUIRED_LEVEL: required,
            REACHED_LEVEL: reached,
            COVERED: reached >= required - _EPS,
            HAS_ACTIVE_COURSE: np.array([k in by_comp for k in comps], dtype=bool),
        }
    ).astype({c.NIP: "str", c.COMPETENCY_ID: "str"})


def modules_to_commission(uncovered: pd.DataFrame) -> pd.DataFrame:
    """The uncovered gaps grouped into modules: (competency, from level -> to level) and the
    number of employees who need each. `from_level` is the whole level the courses reach
    (rounded down), `to_level` the required level. Sorted by employees, then competency."""
    open_ = uncovered.loc[~uncovered[COVERED].to_numpy(dtype=bool)]
    columns = [c.COMPETENCY_ID, FROM_LEVEL, TO_LEVEL, N_EMPLOYEES, HAS_ACTIVE_COURSE]
    if not len(open_):
        return pd.DataFrame(
            {
                c.COMPETENCY_ID: pd.Series([], dtype="str"),
                FROM_LEVEL: pd.Series([], dtype="int64"),
                TO_LEVEL: pd.Series([], dtype="int64"),
                N_EMPLOYEES: pd.Series([], dtype="int64"),
                HAS_ACTIVE_COURSE: pd.Series([], dtype=bool),
            }
        )
    frame = pd.DataFrame(
        {
            c.COMPETENCY_ID: open_[c.COMPETENCY_ID].astype(str).to_numpy(),
            FROM_LEVEL: [math.floor(v + _EPS) for v in open_[REACHED_LEVEL].tolist()],
            TO_LEVEL: [math.ceil(v - _EPS) for v in open_[c.REQUIRED_LEVEL].tolist()],
            c.NIP: open_[c.NIP].astype(str).to_numpy(),
            HAS_ACTIVE_COURSE: open_[HAS_ACTIVE_COURSE].to_numpy(dtype=bool),
        }
    )
    out = (
        frame.groupby([c.COMPETENCY_ID, FROM_LEVEL, TO_LEVEL], sort=True)
        .agg(**{N_EMPLOYEES: (c.NIP, "nunique"), HAS_ACTIVE_COURSE: (HAS_ACTIVE_COURSE, "any")})
        .reset_index()
    )
    out = out.sort_values(
        [N_EMPLOYEES, c.COMPETENCY_ID, FROM_LEVEL],
        ascending=[False, True, True],
        kind="stable",
    )
    return (
        out[columns]
        .reset_index(drop=True)
        .astype(
            {c.COMPETENCY_ID: "str", FROM_LEVEL: "int64", TO_LEVEL: "int64", N_EMPLOYEES: "int64"}
        )
    )


def active_course_bands(courses: pd.DataFrame, course_competencies: pd.DataFrame) -> pd.DataFrame:
    """The course_competencies rows of active courses (the input of `uncovered_gaps`)."""
    active = courses.loc[courses[c.ACTIVE].to_numpy(dtype=bool), c.COURSE_ID]
    keep = course_competencies[c.COURSE_ID].isin(active).to_numpy()
    return course_competencies.loc[keep].reset_index(drop=True)
