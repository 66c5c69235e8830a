"""The per-employee selection behind `model.path_builder.build_path`: the arrays of one
employee's candidates (`prepare`), the budgeted greedy by value per JP with prerequisite
costs, the fill up to `min_jp`, the exact repair over forced courses when the fill cannot
get there (`repair`), and the ordered steps with their reasons (`path_steps`).
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Iterator, Sequence

import numpy as np

from features import columns as c
from model import reasons
from model.path_catalog import Catalog
from model.path_inputs import (
    Candidates,
    EmployeeState,
    PathStep,
    band_gain,
    concat_ranges,
)

#: Forced-course sets the min-JP repair may try per employee before giving up.
REPAIR_MAX_TRIES = 256


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
    completed: set[int]
    ongoing: frozenset[int]
    done: np.ndarray
    has_gaps: bool
    at_risk: bool

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
        if _needed(cat, ci_list[j], completed, ongoing) is None:
            blocked[j] = True
        else:
            pre_cands.append(j)
    x.blocked, x.pre_cands = blocked, pre_cands
    return x


def _missing(value: object) -> bool:
    """None, NaN or pandas' NA."""
    try:
        return value is None or math.isnan(value)  # type: ignore[arg-type]
    except TypeError:
        return True


def _needed(
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


class _Selection:
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
        self.rem = x.rem0.copy()
        self.chosen_c = np.zeros(x.n, dtype=bool)
        self.open_c = ~x.blocked  # candidates neither chosen nor blocked
        self.value: dict[int, float] = {}
        self.main: dict[int, int] = {}
        self.objective = 0.0


def _add(x: PathContext, sel: _Selection, courses: Sequence[int]) -> None:
    """Append courses (prerequisites first) and lower the remaining gaps by their closure."""
    hours = x.cat.hours_list
    for course in courses:
        sel.order.append(course)
        sel.taken.add(course)
        sel.hours += hours[course]
        value, main = 0.0, -1
        j = x.cand_pos.get(course)
        if j is not None:
            sel.chosen_c[j] = True
            sel.open_c[j] = False
            a, b = x.offs[j], x.offs[j + 1]
            if b > a:
                comps = x.e_comp[a:b]
                closure = x.p[j] * np.minimum(x.gain[a:b], sel.rem[comps])
                value = float(closure.sum())
                if value > 0:
                    sel.rem[comps] -= closure
                    main = int(comps[closure.argmax()])
                    sel.objective += value * float(x.mult[j])
        sel.value[course] = value
        sel.main[course] = main


def _greedy(
    x: PathContext, sel: _Selection, budget: int, max_courses: int, min_value: float
) -> tuple[list[int] | None, list[int] | None]:
    """Add courses by value per JP (bundled with their missing prerequisites) while one fits.

    Returns the first pick and the best single bundle by value (for the second greedy run).
    """
    n = x.n
    if n == 0:
        return None, None
    cat = x.cat
    hours = cat.hours_list
    ci = x.ci
    first_pick: list[int] | None = None
    best_single: list[int] | None = None
    # Missing prerequisites per candidate; `_needed` depends on `sel.taken` only through the
    # course's ancestors, so an entry stays valid until a pick adds one of them.
    known: dict[int, list[int]] = {}
    ancestors = cat.ancestors
    while True:
        left = budget - sel.hours
        slots = max_courses - len(sel.order)
        if left <= 0 or slots <= 0:
            break
        closure = np.minimum(x.gain, sel.rem[x.e_comp])
        value = np.bincount(x.e_cand, weights=closure, minlength=n) * x.p
        adjusted = value * x.mult if x.at_risk else value  # mult is all ones otherwise
        # Bundles with missing prerequisites get their cost and value summed in copies; the
        # arrays are copied only when some candidate has one (few per employee do).
        cost, bundle_value, bundle_adjusted = x.hours_c, value, adjusted
        needs: dict[int, list[int]] = {}
        too_long: list[int] = []
        for j in x.pre_cands:
            if sel.chosen_c[j]:
                continue
            need = known.get(j)
            if need is None:
                # Never None here: blocked candidates are not in pre_cands, and taking more
                # courses cannot make an inactive prerequisite necessary.
                need = known[j] = _needed(cat, int(ci[j]), sel.taken, x.ongoing) or []
            if not need:
                continue
            if not needs:
                cost, bundle_value, bundle_adjusted = cost.copy(), value.copy(), adjusted.copy()
            needs[j] = need
            if len(need) + 1 > slots:
                too_long.append(j)
            for q in need:
                cost[j] += hours[q]
                jq = x.cand_pos.get(q)
                if jq is not None:
                    bundle_value[j] += value[jq]
                    bundle_adjusted[j] += adjusted[jq]
        ok = sel.open_c & (cost <= left)
        ok &= bundle_value >= min_value
        if too_long:
            ok[too_long] = False
        if not ok.any():
            break
        ratio = np.where(ok, bundle_adjusted / np.maximum(cost, EPS), -np.inf)
        j = int(ratio.argmax())
        bundle = [*needs.get(j, ()), int(ci[j])]
        if first_pick is None:
            first_pick = bundle
            s = int(np.where(ok, bundle_adjusted, -np.inf).argmax())
            best_single = [*needs.get(s, ()), int(ci[s])]
        _add(x, sel, bundle)
        added = frozenset(bundle)
        known = {k: v for k, v in known.items() if ancestors[int(ci[k])].isdisjoint(added)}
    return first_pick, best_single


def _fill_order(x: PathContext, sel: _Selection) -> Iterator[int]:
    """Courses to top up to min_jp, best first: the ranker's candidates, then the catalog.

    Preferred: courses on a competency with remaining gap, then on one the position requires,
    then (candidates) by value and ranker score, (catalog) by risk-friendly format when at risk.
    """
    live = sel.rem > EPS
    if x.n:
        on_gap = np.bincount(x.e_cand, weights=live[x.e_comp], minlength=x.n) > 0
        on_pos = np.bincount(x.e_cand, weights=x.useful_comp[x.e_comp], minlength=x.n) > 0
        closure = np.minimum(x.gain, sel.rem[x.e_comp])
        value = np.bincount(x.e_cand, weights=closure, minlength=x.n) * x.p * x.mult
        for j in np.lexsort((-x.score, -value, ~on_pos, ~on_gap)).tolist():
            if not x.blocked[j]:
                yield int(x.ci[j])
    cat = x.cat
    pool = np.flatnonzero(cat.active & ~x.done & ~x.is_cand)
    if len(pool) == 0:
        return
    n_gap = np.bincount(cat.entry_course, weights=live[cat.entry_comp], minlength=cat.n_courses)
    n_pos = np.bincount(
        cat.entry_course, weights=x.useful_comp[cat.entry_comp], minlength=cat.n_courses
    )
    friendly = cat.risk_factor if x.at_risk else np.ones(cat.n_courses)
    keys = (cat.topo_rank[pool], -friendly[pool], n_pos[pool] <= 0, n_gap[pool] <= 0)
    yield from pool[np.lexsort(keys)].tolist()


def _fill(x: PathContext, sel: _Selection, budget: int, min_jp: int, max_courses: int) -> None:
    """Add the best-preferred courses that fit until the path reaches min_jp."""
    if sel.hours >= min_jp:
        return
    hours = x.cat.hours_list
    for course in _fill_order(x, sel):
        if course in sel.taken:
            continue
        need = _needed(x.cat, course, sel.taken, x.ongoing)
        if need is None:
            continue
        cost = hours[course] + sum(hours[q] for q in need)
        if sel.hours + cost > budget or len(sel.order) + len(need) + 1 > max_courses:
            continue
        _add(x, sel, [*need, course])
        if sel.hours >= min_jp or len(sel.order) >= max_courses:
            return


def select(
    x: PathContext,
    forced: Sequence[int],
    budget: int,
    min_jp: int,
    max_courses: int,
    min_value: float,
) -> tuple[_Selection, list[int] | None, list[int] | None]:
    sel = _Selection(x)
    if forced:
        _add(x, sel, forced)
    first, single = _greedy(x, sel, budget, max_courses, min_value)
    _fill(x, sel, budget, min_jp, max_courses)
    return sel, first, single


def repair(
    x: PathContext, base: _Selection, budget: int, min_jp: int, max_courses: int, min_value: float
) -> _Selection | None:
    """Find a valid path reaching min_jp when greedy + fill did not, by forcing courses in.

    Breadth-first over sets of forced courses (each closed under prerequisites), completing
    each with greedy + fill. Exact: if some valid path T reaches min_jp, then T has a course
    outside every short completion S (else hours(T) <= hours(S)), so forcing it keeps the
    forced set inside T; with `budget >= 2 * min_jp` the first forced course already succeeds.
    Bounded by `REPAIR_MAX_TRIES` completions per employee.
    """
    hours = x.cat.hours_list
    rank = x.cat.topo_rank
    seen: set[frozenset[int]] = set()
    queue: deque[tuple[tuple[int, ...], _Selection]] = deque([((), base)])
    tries = 0
    while queue:
        forced, sel = queue.popleft()
        forced_set = set(forced)
        for course in _fill_order(x, sel):
            if course in sel.taken:
                continue
            need = _needed(x.cat, course, x.completed | forced_set, x.ongoing)
            if need is None:
                continue
            new = forced_set.union(need, (course,))
            key = frozenset(new)
            if key in seen or len(new) > max_courses or sum(hours[i] for i in new) > budget:
                continue
            seen.add(key)
            tries += 1
            if tries > REPAIR_MAX_TRIES:
                return None
            ordered = tuple(sorted(new, key=rank.__getitem__))
            found, _, _ = select(x, ordered, budget, min_jp, max_courses, min_value)
            if found.hours >= min_jp:
                return found
            queue.append((ordered, found))
    return None


def path_steps(x: PathContext, sel: _Selection, min_jp: int, min_value: float) -> list[PathStep]:
    """Order the chosen courses and write their reasons."""
    cat = x.cat
    chosen = set(sel.order)
    dependents: dict[int, list[int]] = {i: [] for i in sel.order}
    indegree = dict.fromkeys(sel.order, 0)
    for i in sel.order:
        for q in cat.prerequisites[i]:
            if q in chosen:
                dependents[q].append(i)
                indegree[i] += 1

    def key(i: int) -> tuple[float, float, int, int]:
        return (float(cat.entry_level[i]), -sel.value[i], int(cat.topo_rank[i]), i)

    ready = [key(i) for i in sel.order if indegree[i] == 0]
    heapq.heapify(ready)
    sequence: list[int] = []
    while ready:
        i = heapq.heappop(ready)[-1]
        sequence.append(i)
        for d in dependents[i]:
            indegree[d] -= 1
            if indegree[d] == 0:
                heapq.heappush(ready, key(d))
    position = {i: k for k, i in enumerate(sequence)}

    steps = []
    names = cat.competency_names
    for k, i in enumerate(sequence, start=1):
        parts: list[reasons.Reason] = []
        value = sel.value[i]
        if value >= min_value and sel.main[i] >= 0:
            m = sel.main[i]
            current = None if math.isnan(x.current[m]) else float(x.current[m])
            parts.append(reasons.close_gap(names[m], current, float(x.required[m])))
        deps = sorted(dependents[i], key=position.__getitem__)
        if deps:
            parts.append(reasons.prerequisite_for([cat.titles[d] for d in deps]))
        if not parts:
            m = _fill_competency(x, sel, i)
            name = names[m] if m >= 0 else None
            fill = reasons.min_jp_fill if x.has_gaps else reasons.no_gap_maintenance
            parts.append(fill(name, min_jp))
        adapted = x.at_risk and bool(cat.risk_factor[i] > 1.0)
        if adapted:
            parts.append(
                reasons.risk_adaptation(
                    cat.modes[i], int(cat.hours[i]), low_barrier_mode=bool(cat.low_barrier[i])
                )
            )
        reason = reasons.combine(parts)
        j = x.cand_pos.get(i)
        steps.append(
            PathStep(
                order=k,
                course_id=cat.course_ids[i],
                title=cat.titles[i],
                hours_jp=int(cat.hours[i]),
                competency_ids=cat.course_competency_ids[i],
                score=value,
                p_complete=float(x.p[j]) if j is not None else None,
                reason_id=reason.id,
                reason_en=reason.en,
                reason_codes=tuple(reason.code.split("+")),
                is_prerequisite_for=tuple(cat.course_ids[d] for d in deps),
                adapted_for_risk=adapted,
            )
        )
    return steps


def _fill_competency(x: PathContext, sel: _Selection, course: int) -> int:
    """The competency a fill course is named after: a remaining gap, else a required one."""
    cat = x.cat
    comps = cat.entry_comp[cat.entry_ptr[course] : cat.entry_ptr[course + 1]]
    if len(comps) == 0:
        return -1
    for k in comps:
        if sel.rem[k] > EPS:
            return int(k)
    for k in comps:
        if x.useful_comp[k]:
            return int(k)
    return int(comps[0])
