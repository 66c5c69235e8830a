"""The per-employee selection behind `model.path_builder.build_path`, on the arrays of
`model.path_context.prepare`: the budgeted greedy (`model.path_greedy`), the fill up to
`min_jp`, the exact repair over forced courses when the fill cannot get there (`repair`), and
the ordered steps with their reasons (`path_steps`).
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Iterator, Sequence

import numpy as np

from model import reasons
from model.path_context import EPS, PathContext, Selection, add, needed
from model.path_greedy import greedy
from model.path_inputs import PathStep

#: Forced-course sets the min-JP repair may try per employee before giving up.
REPAIR_MAX_TRIES = 256


def _fill_order(x: PathContext, sel: Selection, max_hours: float = math.inf) -> Iterator[int]:
    """Courses to top up to min_jp, best first: the ranker's candidates, then the catalog.

    Preferred: courses on a competency with remaining gap, then on one the position requires,
    then (candidates) by value and ranker score, (catalog) by risk-friendly format when at risk.
    Candidates already chosen or blocked, and courses longer than `max_hours`, are left out.
    """
    rem = np.asarray(sel.rem)
    live = rem > EPS
    if x.n:
        keep = sel.open_c & (x.hours_c <= max_hours)
        if keep.any():
            on_gap = np.bincount(x.e_cand, weights=live[x.e_comp], minlength=x.n) > 0
            closure = np.minimum(x.gain, rem[x.e_comp])
            value = np.bincount(x.e_cand, weights=closure, minlength=x.n) * x.p * x.mult
            order = np.lexsort((-x.score, -value, ~x.on_pos, ~on_gap))
            yield from x.ci[order[keep[order]]].tolist()
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


def _fill(x: PathContext, sel: Selection, budget: int, min_jp: int, max_courses: int) -> None:
    """Add the best-preferred courses that fit until the path reaches min_jp."""
    if sel.hours >= min_jp:
        return
    hours = x.cat.hours_list
    for course in _fill_order(x, sel, budget - sel.hours):
        if course in sel.taken:
            continue
        need = needed(x.cat, course, sel.taken, x.ongoing)
        if need is None:
            continue
        cost = hours[course] + sum(hours[q] for q in need)
        if sel.hours + cost > budget or len(sel.order) + len(need) + 1 > max_courses:
            continue
        add(x, sel, [*need, course])
        if sel.hours >= min_jp or len(sel.order) >= max_courses:
            return


def select(
    x: PathContext,
    forced: Sequence[int],
    budget: int,
    min_jp: int,
    max_courses: int,
    min_value: float,
) -> tuple[Selection, list[int] | None, list[int] | None]:
    sel = Selection(x)
    if forced:
        add(x, sel, forced)
    first, single = greedy(x, sel, budget, max_courses, min_value)
    _fill(x, sel, budget, min_jp, max_courses)
    return sel, first, single


def repair(
    x: PathContext, base: Selection, budget: int, min_jp: int, max_courses: int, min_value: float
) -> Selection | None:
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
    queue: deque[tuple[tuple[int, ...], Selection]] = deque([((), base)])
    tries = 0
    while queue:
        forced, sel = queue.popleft()
        forced_set = set(forced)
        for course in _fill_order(x, sel):
            if course in sel.taken:
                continue
            need = needed(x.cat, course, x.completed | forced_set, x.ongoing)
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


def path_steps(x: PathContext, sel: Selection, min_jp: int, min_value: float) -> list[PathStep]:
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


def _fill_competency(x: PathContext, sel: Selection, course: int) -> int:
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
