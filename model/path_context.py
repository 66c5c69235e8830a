"""One employee's path problem as arrays (`prepare`, once per employee and catalog, whatever
the budget) and a path under construction (`Selection`, `add`); `needed` finds a course's
missing prerequisites. Choosing the courses is `model.path_greedy` and
`model.path_selection`'s work.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from features import columns as c
from model.path_catalog import Catalog
from model.path_inputs import (
    Candidates,
    EmployeeState,
    band_gain,
    concat_ranges,
)

EPS = 1e-9


class PathContext:
    """Everything about one employee and their candidates, as arrays, computed once; never
    modified by the selection (a selection copies what it changes), so it may be shared."""

    cat: Catalog
    n: int
    ci: np.ndarray  # candidate course indices
    p: np.ndarray
    gain: np.ndarray  # flat, one per band of each candidate (`offs` delimits them)
    score: np.ndarray
    offs: np.ndarray
    e_cand: np.ndarray
    e_comp: np.ndarray
    e_pos: np.ndarray
    mult: np.ndarray  # risk multiplier per candidate
    cand_pos: dict[int, int]
    is_cand: np.ndarray
    blocked: np.ndarray
    pre_cands: list[int]
    hours_c: np.ndarray
    rem0: np.ndarray  # gap per catalog competency
    current: np.ndarray
    required: np.ndarray
    useful_comp: np.ndarray
    on_pos: np.ndarray  # per candidate: on a competency the position requires
    completed: set[int]
    ongoing: frozenset[int]
    done: np.ndarray
    has_gaps: bool
    at_risk: bool
    # The same per candidate as Python lists (the lazy greedy reads single values).
    ci_list: list[int]
    hours_list: list[float]
    p_list: list[float]
    mult_list: list[float]
    gains_flat: list[float]  # `gain`, `e_comp` and `offs` as lists
    comps_flat: list[int]
    offs_list: list[int]
    rem0_list: list[float]
    # The greedy's start, nothing taken yet (budget-independent), per candidate: open (not
    # blocked), bundle cost, missing prerequisites (count; the lists of those that have some),
    # bundle value (array and list), risk-adjusted bundle value, heap key -(risk-adjusted
    # value per JP); and the candidates by key (ties: index).
    start_open: np.ndarray
    start_cost: np.ndarray
    start_need_len: np.ndarray
    start_known: dict[int, list[int]]
    start_value: np.ndarray
    start_value_list: list[float]
    start_adjusted: np.ndarray
    start_key: np.ndarray
    start_order: np.ndarray

    __slots__ = tuple(__annotations__)


def prepare(
    employee: EmployeeState,
    cand: Candidates,
    cat: Catalog,
    risk: float | None,
    risk_threshold: float,
) -> PathContext:
    x = PathContext()
    x.cat = cat
    n_comp = len(cat.competency_ids)
    current = np.full(n_comp, np.nan)
    required = np.full(n_comp, np.nan)
    rem0 = np.zeros(n_comp)
    floor = float(c.MIN_LEVEL_VALUE)
    for k, (cur, req) in employee.gaps.items():
        i = cat.competency_index.get(k)
        if i is None or _missing(req):
            continue
        cur_f = math.nan if _missing(cur) else float(cur)  # type: ignore[arg-type]
        current[i] = cur_f
        required[i] = float(req)
        aim = employee.expected.get(k) if employee.expected and not math.isnan(cur_f) else None
        gap = float(req) - (floor if math.isnan(cur_f) else cur_f if aim is None else aim)
        if gap > 0:
            rem0[i] = gap
    x.current, x.required, x.rem0 = current, required, rem0
    x.has_gaps = bool((rem0 > EPS).any())
    # A competency is "useful" for the fill if the position requires it and a course can still
    # raise it (unknown level: assume it can).
    x.useful_comp = ~np.isnan(required)

    completed = set()
    for cid in employee.completed:
        i = cat.course_index.get(cid)
        if i is not None:
            completed.add(i)
    ongoing = frozenset(
        i for i in (cat.course_index.get(cid) for cid in employee.ongoing) if i is not None
    ).difference(completed)
    # `done` excludes a course from the path; only `completed` satisfies a prerequisite.
    done = np.zeros(cat.n_courses, dtype=bool)
    if completed or ongoing:
        done[list(completed | ongoing)] = True
    x.completed, x.ongoing, x.done = completed, ongoing, done

    ci, p, gain, score = cand.course_idx, cand.p_complete, cand.gain, cand.score
    ptr = cat.entry_ptr
    keep = cat.active[ci] & ~done[ci]
    if len(ci) > 1:
        _, first = np.unique(ci, return_index=True)
        if len(first) < len(ci):
            unique = np.zeros(len(ci), dtype=bool)
            unique[first] = True
            keep &= unique
    if not keep.all():
        gain = gain[np.repeat(keep, ptr[ci + 1] - ptr[ci])]
        ci, p, score = ci[keep], p[keep], score[keep]
    n = len(ci)
    starts, stops = ptr[ci], ptr[ci + 1]
    counts = stops - starts
    offs = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=offs[1:])
    e_pos = concat_ranges(starts, stops)
    e_comp = cat.entry_comp[e_pos]
    missing = np.isnan(gain)
    if missing.any():
        default = band_gain(current[e_comp], cat.entry_min[e_pos], cat.entry_target[e_pos])
        gain = np.where(missing, default, gain)
    x.at_risk = risk is not None and not math.isnan(risk) and risk >= risk_threshold
    x.mult = cat.risk_factor[ci] if x.at_risk else np.ones(n)
    x.n, x.ci, x.p, x.gain, x.score = n, ci, p, gain, score
    x.offs, x.e_pos, x.e_comp = offs, e_pos, e_comp
    x.e_cand = np.repeat(np.arange(n), counts)
    x.hours_c = cat.hours[ci].astype(np.float64)
    ci_list = ci.tolist()
    x.cand_pos = dict(zip(ci_list, range(n), strict=True))
    is_cand = np.zeros(cat.n_courses, dtype=bool)
    is_cand[ci] = True
    x.is_cand = is_cand
    blocked = np.zeros(n, dtype=bool)
    pre_cands = []
    for j in np.flatnonzero(cat.has_prerequisites[ci]).tolist():
        if needed(cat, ci_list[j], completed, ongoing) is None:
            blocked[j] = True
        else:
            pre_cands.append(j)
    x.blocked, x.pre_cands = blocked, pre_cands
    x.ci_list = ci_list
    x.on_pos = np.bincount(x.e_cand, weights=x.useful_comp[e_comp], minlength=n) > 0
    x.hours_list = x.hours_c.tolist()
    x.p_list = p.tolist()
    x.mult_list = x.mult.tolist()
    x.gains_flat, x.comps_flat, x.offs_list = gain.tolist(), e_comp.tolist(), offs.tolist()
    x.rem0_list = rem0.tolist()
    st = _start(x)
    x.start_open = ~blocked
    x.start_cost, x.start_need_len, x.start_value = st.cost, st.need_len, st.bundle_value
    x.start_known = st.needs
    x.start_key = -st.ratio
    x.start_order = np.argsort(x.start_key, kind="stable")
    x.start_value_list, x.start_adjusted = st.bundle_value.tolist(), st.bundle_adjusted
    return x


def _missing(value: object) -> bool:
    """None, NaN or pandas' NA."""
    try:
        return value is None or math.isnan(value)  # type: ignore[arg-type]
    except TypeError:
        return True


def needed(
    cat: Catalog,
    course: int,
    taken: set[int] | frozenset[int],
    ongoing: frozenset[int] = frozenset(),
) -> list[int] | None:
    """Prerequisites of `course` still to take (recursively, prerequisites first).

    A prerequisite in `taken` (completed or already in the path) ends the recursion there.
    None when one of the needed prerequisites is inactive or `ongoing` (attended now, so it can
    be neither counted as done nor taken again): the course cannot be taken this year.
    """
    pre = cat.prerequisites
    if not pre[course]:
        return []
    active = cat.active_list
    out: list[int] = []
    seen: set[int] = set()

    def visit(i: int) -> bool:
        for q in pre[i]:
            if q in taken or q in seen:
                continue
            if not active[q] or q in ongoing:
                return False
            seen.add(q)
            if not visit(q):
                return False
            out.append(q)
        return True

    return out if visit(course) else None


class Selection:
    """A path under construction: courses in the order they were added."""

    __slots__ = (
        "order",
        "taken",
        "hours",
        "rem",
        "chosen_c",
        "open_c",
        "value",
        "main",
        "objective",
    )

    def __init__(self, x: PathContext) -> None:
        self.order: list[int] = []
        self.taken: set[int] = set(x.completed)
        self.hours = 0
        self.rem = x.rem0_list.copy()  # a list: the selection reads and writes single values
        self.chosen_c = np.zeros(x.n, dtype=bool)
        self.open_c = ~x.blocked  # candidates neither chosen nor blocked
        self.value: dict[int, float] = {}
        self.main: dict[int, int] = {}
        self.objective = 0.0


def add(x: PathContext, sel: Selection, courses: Sequence[int]) -> None:
    """Append courses (prerequisites first) and lower the remaining gaps by their closure."""
    hours = x.cat.hours_list
    rem = sel.rem
    for course in courses:
        sel.order.append(course)
        sel.taken.add(course)
        sel.hours += hours[course]
        value, main = 0.0, -1
        j = x.cand_pos.get(course)
        if j is not None:
            sel.chosen_c[j] = True
            sel.open_c[j] = False
            a, b = x.offs_list[j], x.offs_list[j + 1]
            if b > a:
                comps = x.comps_flat[a:b]
                pj = x.p_list[j]
                closure = [
                    pj * (r if (r := rem[m]) < g else g)
                    for g, m in zip(x.gains_flat[a:b], comps, strict=True)
                ]
                value = sum(closure)
                if value > 0:
                    for m, cl in zip(comps, closure, strict=True):
                        rem[m] -= cl
                    main = comps[max(range(len(closure)), key=closure.__getitem__)]
                    sel.objective += value * x.mult_list[j]
        sel.value[course] = value
        sel.main[course] = main


class _Start(NamedTuple):
    """Every candidate's bundle (the course after its missing prerequisites) before anything
    is taken: the greedy's start."""

    cost: np.ndarray
    bundle_value: np.ndarray
    bundle_adjusted: np.ndarray
    ratio: np.ndarray
    needs: dict[int, list[int]]  # of the candidates that miss some prerequisite
    need_len: np.ndarray


def _start(x: PathContext) -> _Start:
    """`_Start` from the employee's gaps and completed courses (numpy over all candidates)."""
    closure = np.minimum(x.gain, x.rem0[x.e_comp])
    value = np.bincount(x.e_cand, weights=closure, minlength=x.n) * x.p
    adjusted = value * x.mult if x.at_risk else value  # mult is all ones otherwise
    cost, bundle_value, bundle_adjusted = x.hours_c.copy(), value.copy(), adjusted.copy()
    needs: dict[int, list[int]] = {}
    need_len = np.zeros(x.n, dtype=np.int64)
    hours = x.cat.hours_list
    for j in x.pre_cands:
        # Never None: blocked candidates are not in pre_cands.
        need = needed(x.cat, x.ci_list[j], x.completed, x.ongoing) or []
        if not need:
            continue
        needs[j] = need
        need_len[j] = len(need)
        for q in need:
            cost[j] += hours[q]
            jq = x.cand_pos.get(q)
            if jq is not None:
                bundle_value[j] += value[jq]
                bundle_adjusted[j] += adjusted[jq]
    ratio = bundle_adjusted / np.maximum(cost, EPS)
    return _Start(cost, bundle_value, bundle_adjusted, ratio, needs, need_len)
