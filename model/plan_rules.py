"""The rules every development plan must keep, checked independently of how it was built.

Used by tests on data from any generator and by training (a metric that must stay 0). It reads
plans in the API's shape (dicts), so it checks what HR systems actually receive.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from features import columns as c
from model.path_builder import Catalog


def plan_violations(
    plans: Iterable[Mapping[str, Any]],
    catalog: Catalog,
    taken: Mapping[str, set[str]],
    jp_budget: int,
    mentor_capacity: int | None = None,
) -> list[str]:
    """Every broken rule, as readable strings (empty when all plans are valid).

    Rules: only active courses; never a course already completed or ongoing (`taken`);
    prerequisites completed or earlier in the path; total JP <= budget and equal to the sum of
    steps; steps numbered 1..n without duplicates; reasons in both languages; a mentor is not
    the mentee and mentors have at most `mentor_capacity` new mentees.
    """
    problems: list[str] = []
    load: dict[str, int] = {}
    for plan in plans:
        nip = str(plan[c.NIP])
        done = taken.get(nip, set())
        path = plan["training_path"]
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
            for p in catalog.prerequisites[idx]:
                pid = catalog.course_ids[p]
                if pid not in done and pid not in seen:
                    problems.append(f"{where}: prerequisite {pid} neither completed nor earlier")
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
