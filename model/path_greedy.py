"""The budgeted greedy by value per JP behind `model.path_selection.select`: lazy, from the
start `model.path_context.prepare` keeps, courses bundled with their missing prerequisites."""

from __future__ import annotations

import heapq
from collections.abc import Sequence

import numpy as np

from model.path_context import EPS, PathContext, Selection, add, needed


def greedy(
    x: PathContext, sel: Selection, budget: int, max_courses: int, min_value: float
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
    exact: dict[int, tuple[float, float]] = {}
    # Until a course is added the start's keys are exact (values `start_value_list`).
    start_values: list[float] | None = None if forced else x.start_value_list
    if forced:  # the start's ratios are now only bounds
        _taken(x, sel, sel.order, heap, known, exact, chosen, min_value)
    first: list[int] | None = None
    single: list[int] | None = None
    while True:
        left = budget - sel.hours
        slots = max_courses - len(sel.order)
        if left <= 0 or slots <= 0:
            break
        bundle = _next_pick(
            x, sel, heap, known, exact, start_values, chosen, left, slots, min_value
        )
        if bundle is None:
            break
        if first is None:
            first = bundle
            if not forced:
                j = int(np.where(ok, x.start_adjusted, -np.inf).argmax())
                single = [*known.get(j, ()), x.ci_list[j]]
        start_values = None
        add(x, sel, bundle)
        _taken(x, sel, bundle, heap, known, exact, chosen, min_value)
    return first, single


def _next_pick(
    x: PathContext,
    sel: Selection,
    heap: list[tuple[float, int]],
    known: dict[int, list[int]],
    exact: dict[int, tuple[float, float]],
    start_values: list[float] | None,
    chosen: set[int],
    left: int,
    slots: int,
    min_value: float,
) -> list[int] | None:
    """The best bundle that fits (its prerequisites, then the course), or None.

    `heap` holds (-ratio, candidate), each ratio at least the candidate's current one;
    `exact` the (key, value) of candidates evaluated at the current gaps (`start_values`:
    nothing was added yet, every key is exact and these are the values); `known` the missing
    prerequisites of the candidates that have some.
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
        if now is None and start_values is not None:
            now = (key, start_values[k])
        elif now is None:
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
    sel: Selection,
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
        need = needed(x.cat, ci[k], sel.taken, x.ongoing) or []
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
    gains, comps, offs, p, mult = x.gains_flat, x.comps_flat, x.offs_list, x.p_list, x.mult_list
    hours, cand_pos = x.cat.hours_list, x.cand_pos

    def value_of(j: int) -> float:
        total = 0.0
        for i in range(offs[j], offs[j + 1]):
            r, g = rem[comps[i]], gains[i]
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
