"""Whether a manager's change to a plan is one the plan may hold, checked in one place.

`serving.services.reviews.create_review` calls `check_changes` before storing a `changed`
decision, and both the API route and the pages store their decisions through it, so the API and
the form refuse the same things: courses the catalog does not know or no longer offers, courses
already completed or ongoing, duplicates, removing what the plan does not hold, an order that
is not the resulting path, a course before its prerequisite, and a mentor the recommender could
not have proposed (the eligibility rules of `model.mentor_pairing.rank_mentors`) or one outside
the reviewer's units.

`course_change_problems` is the pure part (ids in, problems out); `check_changes` gathers the
plan, the catalog and the employee's history from the serving state and the review table.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi.exceptions import RequestValidationError
from sqlalchemy.orm import Session

from features import columns as c
from model.path_catalog import Catalog
from model.plan_rules import missing_prerequisites
from serving.keys import ApiKey
from serving.schemas import PlanChanges
from serving.services.plans import (
    REORDER_FIELD,
    apply_change,
    apply_changes,
    changed_budget,
    fetch_reviews,
)
from serving.state import ServingState

ADD = "add_course_ids"
REMOVE = "remove_course_ids"


#: Error type of a change that leaves a course without its completed (or earlier) prerequisite.
MISSING_PREREQUISITE = "missing_prerequisite"


@dataclass(frozen=True)
class ChangeProblem:
    """One refused part of a change: the field, the position in its list, what is wrong."""

    field: str
    index: int | None
    value: Any
    message: str
    #: The error `type`: which rule, so a caller (the pages) can say it in its own words.
    rule: str = "value_error"

    def as_error(self) -> dict[str, Any]:
        """In the shape of pydantic's errors, so the 422 body reads like any other."""
        loc: tuple[str | int, ...] = ("body", "changes", self.field)
        if self.index is not None:
            loc = (*loc, self.index)
        return {"type": self.rule, "loc": loc, "msg": self.message, "input": self.value}


def _missing_prerequisites(
    path: Sequence[str], catalog: Catalog, completed: Collection[str]
) -> set[tuple[str, str]]:
    """(course, prerequisite) pairs whose prerequisite is neither completed nor earlier: the
    plan rules' own check (`model.plan_rules.missing_prerequisites`), where an ongoing course
    does not count (it may still be dropped)."""
    missing = missing_prerequisites(list(path), catalog, frozenset(completed))
    return {(cid, str(p)) for cid, needed in missing.items() for p in needed}


def _duplicates(field: str, values: Sequence[str]) -> list[ChangeProblem]:
    seen: set[str] = set()
    out = []
    for i, value in enumerate(values):
        if value in seen:
            out.append(ChangeProblem(field, i, value, f"{value!r} is listed twice"))
        seen.add(value)
    return out


def resulting_path(path: Sequence[str], changes: Mapping[str, Any]) -> list[str]:
    """The course ids of `path` after one change, as the plan pages apply it."""
    steps = apply_change([{c.COURSE_ID: cid} for cid in path], changes, lambda _: None)
    return [str(s[c.COURSE_ID]) for s in steps]


def course_change_problems(
    path: Sequence[str],
    changes: Mapping[str, Any],
    catalog: Catalog,
    completed: Collection[str],
    ongoing: Collection[str],
) -> list[ChangeProblem]:
    """What is wrong with one change's course edits to `path` (the plan as it stands).

    Prerequisites are judged on the resulting path, and only breaks this change introduces
    are reported (a plan edited before these rules existed does not block every later edit).
    """
    add = [str(v) for v in changes.get(ADD) or ()]
    remove = [str(v) for v in changes.get(REMOVE) or ()]
    order = [str(v) for v in changes.get(REORDER_FIELD) or ()]
    problems = [
        *_duplicates(ADD, add),
        *_duplicates(REMOVE, remove),
        *_duplicates(REORDER_FIELD, order),
    ]
    current = set(path)
    taken_done, taken_now = set(completed), set(ongoing)
    for i, cid in enumerate(remove):
        if cid not in current:
            problems.append(ChangeProblem(REMOVE, i, cid, f"{cid!r} is not in the plan"))
    removed = set(remove)
    for i, cid in enumerate(add):
        index = catalog.course_index.get(cid)
        if index is None:
            message = f"{cid!r} is not a course of the catalog"
        elif not bool(catalog.active[index]):
            message = f"{cid!r} is no longer offered (inactive in the catalog)"
        elif cid in taken_done:
            message = f"{cid!r} was already completed by this employee"
        elif cid in taken_now:
            message = f"{cid!r} is ongoing for this employee"
        elif cid in removed:
            message = f"{cid!r} is both removed and added"
        elif cid in current:
            message = f"{cid!r} is already in the plan"
        else:
            continue
        problems.append(ChangeProblem(ADD, i, cid, message))
    if problems:
        return problems  # the resulting path is not well defined yet
    result = resulting_path(path, changes)
    if order and sorted(order) != sorted(result):
        wanted = ", ".join(result)
        problems.append(
            ChangeProblem(
                REORDER_FIELD,
                None,
                order,
                f"must list each course of the resulting path exactly once ({wanted})",
            )
        )
        return problems
    before = _missing_prerequisites(path, catalog, completed)
    for cid, prerequisite in sorted(_missing_prerequisites(result, catalog, completed) - before):
        field = REORDER_FIELD if order else (ADD if cid in add else REMOVE)
        problems.append(
            ChangeProblem(
                field,
                None,
                cid,
                f"{cid!r} needs {prerequisite!r} completed (an ongoing course does not count) "
                "or earlier in the path",
                rule=MISSING_PREREQUISITE,
            )
        )
    return problems


def check_changes(
    session: Session, state: ServingState, key: ApiKey, nip: str, changes: PlanChanges
) -> None:
    """Refuse (422, pydantic-shaped errors) a change the plan of `nip` may not hold.

    Blocking (database, maybe a plan at a new budget): call from a worker thread.
    """
    reviews = fetch_reviews(session, [nip]).get(nip, [])
    budget = changes.jp_budget if changes.jp_budget is not None else changed_budget(reviews)
    plan = state.cached_plan(nip, budget) or state.plan(nip, budget)
    catalog = state.planner.catalog
    steps = apply_changes(plan["training_path"], reviews, lambda _: None)
    path = [str(s[c.COURSE_ID]) for s in steps]
    view = state.employee_view(nip)
    completed = set(view.completed[c.COURSE_ID].astype(str))
    ongoing = set(view.ongoing[c.COURSE_ID].astype(str))
    problems = course_change_problems(path, changes.model_dump(), catalog, completed, ongoing)
    if changes.mentor_nip is not None:
        model_mentor = (plan.get("mentor") or {}).get("mentor_nip")
        problem = mentor_problem(state, key, nip, changes.mentor_nip, model_mentor)
        if problem is not None:
            problems.append(ChangeProblem("mentor_nip", None, changes.mentor_nip, problem))
    if problems:
        raise RequestValidationError([p.as_error() for p in problems])


def mentor_problem(
    state: ServingState, key: ApiKey, nip: str, mentor_nip: str, model_mentor: str | None
) -> str | None:
    """Why the reviewer may not set `mentor_nip` as the mentor of `nip`, or None.

    A manager picks within their units and sub-units (or keeps the mentor the model
    proposed); keys that read everything pick anywhere. The rules are the recommender's.
    """
    from model.mentor_pairing import mentor_refusal

    # Scope first: a manager learns nothing about NIPs outside their units, not even whether
    # one belongs to an active employee.
    if mentor_nip != model_mentor and not key.reads_all:
        if state.unit_of.get(mentor_nip) not in state.scope_of(key.units):
            return "the mentor is not in your units or their sub-units"
    if not state.has(mentor_nip):
        return "the mentor is not an active employee"
    return mentor_refusal(state.view, nip, mentor_nip)
