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
from typing import NamedTuple

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
    # The same per candidate as Python lists (the lazy greedy reads single values).
    ci_list: list[int]
    hours_list: list[float]
    p_list: list[float]
    mult_list: list[float]
    gain_lists: list[list[float]]
    comp_lists: list[list[int]]
    rem0_list: list[float]
    no_needs: np.ndarray  # zeros: no candidate misses a prerequisite
    # The greedy's start, nothing taken yet (budget-independent), per candidate: open (not
    # blocked), bundle cost, missing prerequisites (count; the lists of those that have some),
    # bundle value, heap key -(risk-adjusted value per JP); candidates by key and by
    # risk-adjusted value (ties: index); the exact (key, value) of the open ones.
    start_open: np.ndarray
    start_cost: np.ndarray
    start_need_len: np.ndarray
    start_known: dict[int, list[int]]
    start_value: np.ndarray
    start_key: np.ndarray
    start_order: np.ndarray
    start_by_value: np.ndarray
    start_exact: dict[int, tuple[float, float]]

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
    x.ci_list = ci_list
    x.hours_list = x.hours_c.tolist()
    x.p_list = p.tolist()
    x.mult_list = x.mult.tolist()
    bounds = offs.tolist()
    gains, comps = gain.tolist(), e_comp.tolist()
    x.gain_lists = [gains[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]
    x.comp_lists = [comps[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]
    x.rem0_list = rem0.tolist()
    x.no_needs = np.zeros(n, dtype=np.int64)
    st = _start(x, _Selection(x))
    x.start_open = ~blocked
    x.start_cost, x.start_need_len, x.start_value = st.cost, st.need_len, st.bundle_value
    x.start_known = {j: need for j, need in st.needs.items() if need}
    x.start_key = -st.ratio
    x.start_order = np.argsort(x.start_key, kind="stable")
    x.start_by_value = np.argsort(-st.bundle_adjusted, kind="stable")
    keys, values = x.start_key.tolist(), st.bundle_value.tolist()
    x.start_exact = {j: (keys[j], values[j]) for j in np.flatnonzero(~blocked).tolist()}
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
        self.rem = x.rem0_list.copy()  # a list: the selection reads and writes single values
        self.chosen_c = np.zeros(x.n, dtype=bool)
        self.open_c = ~x.blocked  # candidates neither chosen nor blocked
        self.value: dict[int, float] = {}
        self.main: dict[int, int] = {}
        self.objective = 0.0


def _add(x: PathContext, sel: _Selection, courses: Sequence[int]) -> None:
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
            comps = x.comp_lists[j]
            if comps:
                pj = x.p_list[j]
                closure = [
                    pj * (r if (r := rem[m]) < g else g)
                    for g, m in zip(x.gain_lists[j], comps, strict=True)
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
    """The values, bundles and ratios of every candidate before a greedy's first pick."""

    value: np.ndarray
    adjusted: np.ndarray
    cost: np.ndarray
    bundle_value: np.ndarray
    bundle_adjusted: np.ndarray
    ratio: np.ndarray
    needs: dict[int, list[int]]
    need_len: np.ndarray


def _start(x: PathContext, sel: _Selection) -> _Start:
    """`_Start` for the selection as it is (numpy over all candidates)."""
    closure = np.minimum(x.gain, np.asarray(sel.rem)[x.e_comp])
    value = np.bincount(x.e_cand, weights=closure, minlength=x.n) * x.p
    adjusted = value * x.mult if x.at_risk else value  # mult is all ones otherwise
    # Bundles with missing prerequisites get their cost and value summed in copies; the
    # arrays are copied only when some candidate has one (few per employee do).
    cost, bundle_value, bundle_adjusted = x.hours_c, value, adjusted
    needs: dict[int, list[int]] = {}
    need_len = x.no_needs
    hours = x.cat.hours_list
    for j in x.pre_cands:
        if sel.chosen_c[j]:
            continue
        # Never None here: blocked candidates are not in pre_cands, and taking more courses
        # cannot make an inactive prerequisite necessary.
        need = _needed(x.cat, x.ci_list[j], sel.taken, x.ongoing) or []
        needs[j] = need
        if not need:
            continue
        if need_len is x.no_needs:
            cost, bundle_value, bundle_adjusted = cost.copy(), value.copy(), adjusted.copy()
            need_len = need_len.copy()
        need_len[j] = len(need)
        for q in need:
            cost[j] += hours[q]
            jq = x.cand_pos.get(q)
            if jq is not None:
                bundle_value[j] += value[jq]
                bundle_adjusted[j] += adjusted[jq]
    ratio = bundle_adjusted / np.maximum(cost, EPS)
    return _Start(value, adjusted, cost, bundle_value, bundle_adjusted, ratio, needs, need_len)


def _greedy(
    x: PathContext, sel: _Selection, budget: int, max_courses: int, min_value: float
) -> tuple[list[int] | None, list[int] | None]:
    """Add courses by value per JP (bundled with their missing prerequisites) while one fits.

    Lazily: a candidate's value only falls as gaps close, so a heap of earlier ratios bounds
    the current ones; the candidate on top is re-evaluated and taken when it stays on top. A
    bundle's cost falls only when one of its prerequisites is taken; such candidates are
    re-evaluated at once (`_taken`). The picks are those of re-evaluating every candidate
    after every pick (ties: lowest index), at a fraction of the cost. The heap starts from
    `prepare`'s ratios (nothing taken, exact until the first course is added).

    Returns the first pick and, without forced courses, the best single bundle by value
    (for the second greedy run); (None, None) when nothing was added.
    """
    if x.n == 0 or budget - sel.hours <= 0 or max_courses - len(sel.order) <= 0:
        return None, None
    # Candidates that cannot fit even from the start drop out at once (numpy); a cost falls
    # only when a prerequisite is taken, and `_taken` puts those candidates back.
    ok = x.start_open & (x.start_cost <= budget - sel.hours)
    ok &= x.start_need_len < max_courses - len(sel.order)
    ok &= x.start_value >= min_value  # values only fall
    order = x.start_order[ok[x.start_order]]
    heap = list(zip(x.start_key[order].tolist(), order.tolist(), strict=True))  # sorted: a heap
    known = x.start_known.copy()
    chosen: set[int] = set()
    forced = bool(sel.order)
    exact: dict[int, tuple[float, float]] = {} if forced else x.start_exact.copy()
    if forced:  # the start's ratios are now only bounds
        _taken(x, sel, sel.order, heap, known, exact, chosen, min_value)
    first: list[int] | None = None
    single: list[int] | None = None
    while True:
        left = budget - sel.hours
        slots = max_courses - len(sel.order)
        if left <= 0 or slots <= 0:
            break
        bundle = _next_pick(x, sel, heap, known, exact, chosen, left, slots, min_value)
        if bundle is None:
            break
        if first is None:
            first = bundle
            if not forced:
                by_value = x.start_by_value[ok[x.start_by_value]]
                j = int(by_value[0])
                single = [*known.get(j, ()), x.ci_list[j]]
        _add(x, sel, bundle)
        _taken(x, sel, bundle, heap, known, exact, chosen, min_value)
    return first, single


def _next_pick(
    x: PathContext,
    sel: _Selection,
    heap: list[tuple[float, int]],
    known: dict[int, list[int]],
    exact: dict[int, tuple[float, float]],
    chosen: set[int],
    left: int,
    slots: int,
    min_value: float,
) -> list[int] | None:
    """The best bundle that fits (its prerequisites, then the course), or None.

    `heap` holds (-ratio, candidate), each ratio at least the candidate's current one;
    `exact` the (key, value) of candidates evaluated at the current gaps; `known` the
    missing prerequisites of the candidates that have some.
    """
    hours, hours_c, ci = x.cat.hours_list, x.hours_list, x.ci_list
    while heap:
        key, k = heap[0]
        if k in chosen:
            heapq.heappop(heap)
            continue
        need = known.get(k, ())
        cost = hours_c[k] + sum(hours[q] for q in need) if need else hours_c[k]
        if cost > left or len(need) >= slots:
            heapq.heappop(heap)  # it fits no more (its cost falls only via `_taken`)
            continue
        now = exact.get(k)
        if now is None:
            now = exact[k] = _bundle_key(x, sel.rem, k, need)
            if now[0] != key and now[1] >= min_value:
                heapq.heapreplace(heap, (now[0], k))
                continue
        elif now[0] != key:  # an older entry of k; the exact one is in the heap too
            heapq.heappop(heap)
            continue
        heapq.heappop(heap)
        if now[1] < min_value:  # values only fall: k is never worth it again
            continue
        return [*need, ci[k]]
    return None


def _taken(
    x: PathContext,
    sel: _Selection,
    bundle: Sequence[int],
    heap: list[tuple[float, int]],
    known: dict[int, list[int]],
    exact: dict[int, tuple[float, float]],
    chosen: set[int],
    min_value: float,
) -> None:
    """After `bundle` was added: gaps changed, so no key is exact any more; candidates with a
    prerequisite in `bundle` have a cheaper bundle, and go in again with their exact key."""
    cand_pos = x.cand_pos
    chosen.update(cand_pos[q] for q in bundle if q in cand_pos)
    exact.clear()
    if not known:
        return
    added = frozenset(bundle)
    ancestors, ci = x.cat.ancestors, x.ci_list
    for k in [k for k in known if not ancestors[ci[k]].isdisjoint(added)]:
        need = _needed(x.cat, ci[k], sel.taken, x.ongoing) or []
        if need:
            known[k] = need
        else:
            del known[k]
        if k not in chosen:
            now = exact[k] = _bundle_key(x, sel.rem, k, need)
            if now[1] >= min_value:
                heapq.heappush(heap, (now[0], k))


def _bundle_key(
    x: PathContext, rem: list[float], k: int, need: Sequence[int]
) -> tuple[float, float]:
    """Candidate k's bundle (k after its missing prerequisites `need`) at the remaining gaps
    `rem`: its heap key, -(risk-adjusted value per JP), and its value; the same arithmetic,
    in the same order, as `_start`'s numpy."""
    gains, comps, p, mult = x.gain_lists, x.comp_lists, x.p_list, x.mult_list
    hours, cand_pos = x.cat.hours_list, x.cand_pos

    def value_of(j: int) -> float:
        total = 0.0
        for g, m in zip(gains[j], comps[j], strict=True):
            r = rem[m]
            total += r if r < g else g
        return total * p[j]

    value = value_of(k)
    adjusted = value * mult[k] if x.at_risk else value
    cost = x.hours_list[k]
    for q in need:
        cost += hours[q]
        jq = cand_pos.get(q)
        if jq is not None:
            v = value_of(jq)
            value += v
            adjusted += v * mult[jq] if x.at_risk else v
    return -(adjusted / max(cost, EPS)), value


def _fill_order(x: PathContext, sel: _Selection) -> Iterator[int]:
    """Courses to top up to min_jp, best first: the ranker's candidates, then the catalog.

    Preferred: courses on a competency with remaining gap, then on one the position requires,
    then (candidates) by value and ranker score, (catalog) by risk-friendly format when at risk.
    """
    rem = np.asarray(sel.rem)
    live = rem > EPS
    if x.n:
        on_gap = np.bincount(x.e_cand, weights=live[x.e_comp], minlength=x.n) > 0
        on_pos = np.bincount(x.e_cand, weights=x.useful_comp[x.e_comp], minlength=x.n) > 0
        closure = np.minimum(x.gain, rem[x.e_comp])
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
