"""The rules every development plan must keep, checked independently of how it was built.

Used by tests on data from any generator, by training (a metric that must stay 0) and by the
review of a plan (API and manager pages: `missing_prerequisites`). It reads plans in the API's
shape (dicts), so it checks what HR systems actually receive.

Only a completed course satisfies a prerequisite: an ongoing one may still be dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from features import columns as c
from features.plan_input import EmployeeView
from model.path_catalog import Catalog


def course_history(view: EmployeeView) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(completed, ongoing) course ids per NIP, as known at the view's `as_of`."""
    out: list[dict[str, set[str]]] = []
    for frame in (view.completed, view.ongoing):
        by_nip: dict[str, set[str]] = {}
        for nip, cid in zip(
            frame[c.NIP].astype(str).tolist(), frame[c.COURSE_ID].astype(str).tolist(), strict=True
        ):
            by_nip.setdefault(nip, set()).add(cid)
        out.append(by_nip)
    return out[0], out[1]


def missing_prerequisites(
    course_ids: Sequence[str], catalog: Catalog, completed: set[str] | frozenset[str]
) -> dict[str, list[str]]:
    """Per course of a path (in order), its prerequisites neither completed nor earlier.

    The one check of the prerequisite rule on a path someone edited: an ongoing prerequisite
    is missing (pass only completed courses as `completed`). Courses unknown to the catalog
    have no prerequisites here (knowing the course is a separate rule).
    """
    seen = set(completed)
    out: dict[str, list[str]] = {}
    for cid in course_ids:
        index = catalog.course_index.get(cid)
        if index is not None:
            missing = [
                catalog.course_ids[p] for p in catalog.prerequisites[index]
                if catalog.course_ids[p] not in seen
            ]  # fmt: skip
            if missing:
                out[cid] = missing
        seen.add(cid)
    return out


def plan_violations(
    plans: Iterable[Mapping[str, Any]],
    catalog: Catalog,
    completed: Mapping[str, set[str]],
    ongoing: Mapping[str, set[str]],
    jp_budget: int,
    mentor_capacity: int | None = None,
) -> list[str]:
    """Every broken rule, as readable strings (empty when all plans are valid).

    Rules: only active courses; never a course already completed or ongoing; prerequisites
    completed (an ongoing one does not count) or earlier in the path; total JP <= budget and
    equal to the sum of steps; steps numbered 1..n without duplicates; reasons in both
    languages; a mentor is not the mentee and mentors have at most `mentor_capacity` new
    mentees. `completed` / `ongoing` map NIPs to course ids (`course_history`).
    """
    problems: list[str] = []
    load: dict[str, int] = {}
    for plan in plans:
        nip = str(plan[c.NIP])
        finished = completed.get(nip, set())
        done = finished | ongoing.get(nip, set())
        path = plan["training_path"]
        missing = missing_prerequisites([str(s[c.COURSE_ID]) for s in path], catalog, finished)
        seen: set[str] = set()
        hours = 0
        for k, step in enumerate(path, start=1):
            cid = step[c.COURSE_ID]
            where = f"{nip} step {k} ({cid})"
            if step["order"] != k:
                problems.append(f"{where}: order {step['order']} != {k}")
            idx = catalog.course_index.get(cid)
            if idx is None:
                problems.append(f"{where}: not in the catalog")
                continue
            if not bool(catalog.active[idx]):
                problems.append(f"{where}: inactive course")
            if cid in done:
                problems.append(f"{where}: already completed or ongoing")
            if cid in seen:
                problems.append(f"{where}: duplicate")
            for pid in missing.get(cid, ()) if cid not in seen else ():
                note = " (only ongoing)" if pid in done else ""
                problems.append(f"{where}: prerequisite {pid} neither completed{note} nor earlier")
            if int(step[c.HOURS_JP]) != int(catalog.hours[idx]):
                problems.append(
                    f"{where}: hours {step[c.HOURS_JP]} != catalog {catalog.hours[idx]}"
                )
            if not step.get("reason_id") or not step.get("reason_en"):
                problems.append(f"{where}: reason missing in a language")
            seen.add(cid)
            hours += int(step[c.HOURS_JP])
        if hours != int(plan["total_jp"]):
            problems.append(f"{nip}: total_jp {plan['total_jp']} != sum of steps {hours}")
        if hours > jp_budget:
            problems.append(f"{nip}: {hours} JP over the budget of {jp_budget}")
        mentor = plan.get("mentor")
        if mentor:
            if str(mentor["mentor_nip"]) == nip:
                problems.append(f"{nip}: mentors themselves")
            load[str(mentor["mentor_nip"])] = load.get(str(mentor["mentor_nip"]), 0) + 1
    if mentor_capacity is not None:
        for mentor_nip, n in load.items():
            if n > mentor_capacity:
                problems.append(f"mentor {mentor_nip}: {n} mentees > capacity {mentor_capacity}")
    return problems
