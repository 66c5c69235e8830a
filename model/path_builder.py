"""Turn scored candidate courses into an ordered, valid training path for each employee.

Upstream, a ranker gives each candidate course a chance of completion (`p_complete`) and an
expected level gain per competency it develops; a participation-risk model gives each employee a
risk in [0, 1]. This module is the pure, fast step after that: it chooses which courses to take
within the JP budget, adds their prerequisites, orders them and writes the reasons.

Selection problem. Choose a set of courses, closed under prerequisites, with total hours within
`jp_budget`, maximising expected gap closure. The value of a course is

    p_complete * sum over its competencies k of min(expected_gain_k, remaining_gap_k)

and each chosen course lowers the remaining gaps by its expected closure
(``remaining_k -= p * min(gain_k, remaining_k)``), so a second course on an almost-closed gap is
worth little (diminishing returns). That is a knapsack with a submodular objective and precedence
constraints (NP-hard). We solve it greedily by value per JP, re-evaluating values and
prerequisite costs after every pick, and also run the greedy once more from the best single
course (the classic fix that gives budgeted greedy a constant-factor guarantee when one long,
valuable course would otherwise be crowded out by short ones). The result is then filled up to
`min_jp` (20 JP a year, PP 11/2017 Pasal 203(4)) and, if the fill cannot get there, a small
exact search over forced courses finds a valid path that does (see `model.path_selection.repair`).

Hard rules, always true of the returned path: only active courses; no course already completed
or ongoing; every prerequisite is completed or earlier in the path (an ongoing prerequisite does
not count: it may still be dropped, and it cannot be taken again either, so the course waits;
an inactive, uncompleted prerequisite makes a course unavailable); total hours <= `jp_budget`;
no duplicates; at most `max_courses`.

Speed: one `Catalog` is built per catalog (CSR arrays of course bands, prerequisite lists, a
topological order); the per-employee work is numpy on ~30-50 candidates plus small Python loops,
with no pandas. `candidates_from_frame` converts a whole scored frame in one vectorised pass.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from features import columns as c
from model.path_catalog import Catalog
from model.path_context import EPS, prepare
from model.path_context import PathContext as PreparedPath
from model.path_inputs import (
    Candidates,
    EmployeeState,
    PathStep,
    candidates_from_frame,
)
from model.path_selection import path_steps, repair, select

#: Below this expected gap closure (in levels) a course is not worth picking for its value;
#: it may still be chosen to reach `min_jp`.
DEFAULT_MIN_VALUE = 0.05


def build_path(
    employee: EmployeeState,
    scored: Candidates | pd.DataFrame | None,
    catalog: Catalog,
    jp_budget: int = 40,
    min_jp: int = c.MIN_JP_PER_YEAR,
    risk: float | None = None,
    risk_threshold: float = 0.5,
    max_courses: int | None = None,
    *,
    min_value: float = DEFAULT_MIN_VALUE,
) -> list[PathStep]:
    """The ordered training path of one employee.

    `scored` holds the ranker's candidates (a `Candidates`, or a frame in the layout of
    `candidates_from_frame`, rows of other NIPs ignored). Selection is described in the module
    docstring; `min_jp` is reached whenever a valid path within `jp_budget` (and
    `max_courses`) can reach it. Order: prerequisites first, then by the course's lowest band
    min_level, then by score. When `risk >= risk_threshold`, low-barrier and short courses
    have their value multiplied by `RISK_MODE_FACTOR` / `RISK_SHORT_FACTOR`.

    >>> import pandas as pd
    >>> courses = pd.DataFrame({"course_id": ["A"], "title": ["Pelayanan Prima"],
    ...     "provider": ["BPSDM"], "mode": ["klasikal"], "hours_jp": [24], "active": [True]})
    >>> bands = pd.DataFrame({"course_id": ["A"], "competency_id": ["PP"],
    ...     "min_level": [2], "target_level": [3]})
    >>> cat = Catalog.from_frames(courses, bands, None, {"PP": "Pelayanan Publik"})
    >>> emp = EmployeeState("199001012015031001", {"PP": (2.0, 3.0)})
    >>> step = build_path(emp, Candidates.from_arrays(cat, ["A"], [0.9]), cat)[0]
    >>> step.course_id, step.reason_en
    ('A', 'Closes the gap in Pelayanan Publik: level 2 → 3 required.')
    """
    if jp_budget < 0 or min_jp < 0:
        raise ValueError("jp_budget and min_jp must be >= 0")
    if max_courses is not None and max_courses < 0:
        raise ValueError("max_courses must be >= 0")
    if isinstance(scored, pd.DataFrame):
        frame = scored.loc[scored[c.NIP] == employee.nip] if c.NIP in scored else scored
        if c.NIP not in frame:
            frame = frame.assign(**{c.NIP: employee.nip})
        scored = candidates_from_frame(frame, catalog).get(employee.nip)
    cand = scored if scored is not None else Candidates.empty()
    x = prepare_path(employee, cand, catalog, risk, risk_threshold)
    return build_prepared_path(x, jp_budget, min_jp, max_courses, min_value=min_value)


def prepare_path(
    employee: EmployeeState,
    candidates: Candidates,
    catalog: Catalog,
    risk: float | None = None,
    risk_threshold: float = 0.5,
) -> PreparedPath:
    """Everything `build_path` derives from the employee and their candidates before the budget
    matters (read-only afterwards): a caller building paths for many budgets keeps it."""
    return prepare(employee, candidates, catalog, risk, risk_threshold)


def build_prepared_path(
    x: PreparedPath,
    jp_budget: int = 40,
    min_jp: int = c.MIN_JP_PER_YEAR,
    max_courses: int | None = None,
    *,
    min_value: float = DEFAULT_MIN_VALUE,
) -> list[PathStep]:
    """`build_path` from a `prepare_path` result: the same path, without the preparation."""
    if jp_budget < 0 or min_jp < 0:
        raise ValueError("jp_budget and min_jp must be >= 0")
    limit = max_courses if max_courses is not None else x.cat.n_courses
    sel, first, single = select(x, (), jp_budget, min_jp, limit, min_value)
    if single is not None and single != first:
        alt, _, _ = select(x, single, jp_budget, min_jp, limit, min_value)
        reached, alt_reached = sel.hours >= min_jp, alt.hours >= min_jp
        if (alt_reached, alt.objective) > (reached, sel.objective + EPS):
            sel = alt
    if sel.hours < min_jp <= jp_budget:
        repaired = repair(x, sel, jp_budget, min_jp, limit, min_value)
        if repaired is not None:
            sel = repaired
    return path_steps(x, sel, min_jp, min_value)


def build_paths(
    employees: Sequence[EmployeeState],
    candidates: Mapping[str, Candidates] | Sequence[Candidates],
    catalog: Catalog,
    jp_budget: int = 40,
    min_jp: int = c.MIN_JP_PER_YEAR,
    risks: Mapping[str, float] | Sequence[float] | np.ndarray | None = None,
    risk_threshold: float = 0.5,
    max_courses: int | None = None,
    *,
    min_value: float = DEFAULT_MIN_VALUE,
) -> list[list[PathStep]]:
    """`build_path` for many employees; candidates and risks by NIP or aligned with employees.

    An employee without candidates still gets a path filled from the catalog.
    """
    by_nip = isinstance(candidates, Mapping)
    risk_by_nip = isinstance(risks, Mapping)
    if not by_nip and len(candidates) != len(employees):
        raise ValueError("candidates must be a mapping by nip or one entry per employee")
    if risks is not None and not risk_by_nip and len(risks) != len(employees):
        raise ValueError("risks must be a mapping by nip or one value per employee")
    empty = Candidates.empty()
    out = []
    for k, emp in enumerate(employees):
        cand = candidates.get(emp.nip, empty) if by_nip else candidates[k]  # type: ignore[union-attr,index]
        if risks is None:
            risk = None
        elif risk_by_nip:
            risk = risks.get(emp.nip)  # type: ignore[union-attr]
        else:
            risk = float(risks[k])  # type: ignore[index]
        out.append(
            build_path(
                emp,
                cand,
                catalog,
                jp_budget,
                min_jp,
                risk,
                risk_threshold,
                max_courses,
                min_value=min_value,
            )
        )
    return out
