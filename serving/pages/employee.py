"""An employee's plan page, and the manager's decision on it (approve, reject, change).

Decisions go through the review service the API uses too (`serving.services.reviews`): the
same table, the same change rules, the same one-review-per-request-id guarantee (the form
carries a request id, so a double-clicked button stores one review).
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from features import columns as c
from features.competency import CURRENT_LEVEL, REQUIRED
from model.plan_rules import missing_prerequisites
from serving.db import ApiKeyRecord
from serving.deps import app_settings, may_read, pages_settings
from serving.pages.charts import CompetencyBar, competency_chart
from serving.pages.context import (
    check_employee,
    common,
    database,
    directory_of,
    page_state,
)
from serving.pages.directory import Directory
from serving.pages.errors import PageError
from serving.pages.rendering import redirect, render, translator
from serving.pages.session import PREFIX, Viewer, ViewerDep, check_csrf
from serving.pages.talent_box import ADVICE, BOX, box_cuts, talent_boxes
from serving.schemas import Decision, PlanChanges, PlanReviewCreate
from serving.services import latest_reviews, reviews
from serving.services.plans import (
    REORDER_FIELD,
    SUPPORTS_REORDER,
    EffectivePlan,
    ReviewEntry,
    effective_plan,
    fetch_reviews,
)
from serving.services.review_changes import MISSING_PREREQUISITE
from serving.state import ServingState

router = APIRouter(prefix=PREFIX, include_in_schema=False)

Nip = Annotated[str, Path(min_length=1, max_length=40)]
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,100}$")
_DECISIONS = {d.value for d in Decision}
_MAX_POSITION = 999


# --- reading --------------------------------------------------------------------------------------


def reviewer_labels(session: Session, key_ids: set[str]) -> dict[str, str]:
    if not key_ids:
        return {}
    records = session.scalars(select(ApiKeyRecord).where(ApiKeyRecord.key_id.in_(key_ids)))
    return {r.key_id: r.label or r.key_id for r in records}


def _missing_prerequisites(
    state: ServingState, steps: Sequence[Mapping[str, Any]], completed: set[str]
) -> dict[str, list[str]]:
    """Per step, prerequisites neither completed nor earlier in the path (after a change).

    `completed` holds only completed courses: an ongoing prerequisite is still missing.
    """
    course_ids = [str(step[c.COURSE_ID]) for step in steps]
    return missing_prerequisites(course_ids, state.planner.catalog, completed)


def _course_options(
    directory: Directory, taken: set[str], gap_competencies: set[str]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Active catalog courses a manager may add: those on the employee's gaps first."""
    relevant: list[dict[str, Any]] = []
    others: list[dict[str, Any]] = []
    for cid, info in directory.course_info.items():
        if not info[c.ACTIVE] or cid in taken:
            continue
        option = {
            "id": cid,
            "title": info[c.TITLE],
            "hours": info[c.HOURS_JP],
            "mode": info[c.MODE],
        }
        (relevant if gap_competencies & set(info["competency_ids"]) else others).append(option)
    return relevant, others


def _history(
    reviews: Sequence[ReviewEntry], labels: Mapping[str, str], directory: Directory
) -> list[dict[str, Any]]:
    def titled(ids: Sequence[str]) -> list[str]:
        return [f"{i} · {(directory.course(i) or {}).get(c.TITLE, i)}" for i in ids]

    out = []
    for review in reversed(reviews):
        changes = review.changes or {}
        out.append(
            {
                "entry": review,
                "reviewer": labels.get(review.key_id, review.key_id),
                "removed": titled(changes.get("remove_course_ids") or ()),
                "added": titled(changes.get("add_course_ids") or ()),
                "order": list(changes.get(REORDER_FIELD) or ()),
                "jp_budget": changes.get("jp_budget"),
                "mentor": (
                    directory.name(str(changes["mentor_nip"]))
                    if changes.get("mentor_nip")
                    else None
                ),
            }
        )
    return out


def _mentor_identity(state: ServingState, viewer: Viewer, mentor_nip: str | None) -> dict[str, Any]:
    """How the mentor card identifies the mentor: by NIP when the viewer may see that person,
    else by their unit only (UU 27/2022 data minimisation: a manager needs to know who and
    where a mentor from another unit is to approve the pairing, not their NIP)."""
    if not mentor_nip:
        return {"mentor_nip_shown": None, "mentor_unit_name": None}
    unit = state.unit_of.get(mentor_nip, "")
    return {
        "mentor_nip_shown": mentor_nip if may_read(state, viewer.key, mentor_nip) else None,
        "mentor_unit_name": state.unit_names.get(unit, unit) if unit else None,
    }


def _plan_context(request: Request, viewer: Viewer, nip: str) -> dict[str, Any]:
    state = page_state(request)
    check_employee(state, viewer, nip)
    directory = directory_of(request, state)
    t = translator(request)
    with database(request) as session:
        reviews = fetch_reviews(session, [nip]).get(nip, [])
        labels = reviewer_labels(session, {r.key_id for r in reviews})
    effective = effective_plan(state, nip, reviews, directory.course)
    view = state.employee_view(nip)
    completed = set(view.completed[c.COURSE_ID].astype(str))
    done = completed | set(view.ongoing[c.COURSE_ID].astype(str))
    path_ids = {str(s[c.COURSE_ID]) for s in effective.steps}
    comp = view.competency
    required = comp.loc[comp[REQUIRED].to_numpy(dtype=bool) & comp[c.REQUIRED_LEVEL].notna()]
    bars = [
        CompetencyBar(
            str(k),
            directory.competency(str(k)),
            None if cur != cur else float(cur),  # NaN: never assessed
            float(req),
        )
        for k, cur, req in zip(
            required[c.COMPETENCY_ID],
            required[CURRENT_LEVEL],
            required[c.REQUIRED_LEVEL],
            strict=True,
        )
    ]
    chart = competency_chart(
        bars,
        title=t("chart_title"),
        current_label=t("chart_current"),
        required_label=t("chart_required"),
        unassessed_label=t("chart_unassessed"),
        decimal=t.decimal,
    )
    gap_comps = {str(g[c.COMPETENCY_ID]) for g in effective.plan.get("gaps") or ()}
    relevant, others = _course_options(directory, done | path_ids, gap_comps)
    cuts = box_cuts(pages_settings(request))
    boxes = talent_boxes(view.employees, view.competency, cuts)
    value = boxes[BOX].iloc[0] if len(boxes) else pd.NA
    box = None if pd.isna(value) else int(value)
    plan = effective.plan
    mentor = plan.get("mentor") or None
    threshold = float(getattr(state.planner, "risk_threshold", 0.5))
    risk = plan.get("participation_risk")
    unit_id = state.unit_of.get(nip, "")
    return {
        **common(viewer, state),
        "nip": nip,
        "name": directory.name(nip),
        "position": directory.positions.get(nip, ""),
        "golongan": directory.golongan.get(nip, ""),
        "unit_id": unit_id,
        "unit_name": state.unit_names.get(unit_id, unit_id),
        "effective": effective,
        "steps": _steps(effective, directory, state, completed),
        "chart": chart,
        "gaps": [
            {**g, "name": directory.competency(str(g[c.COMPETENCY_ID]))}
            for g in plan.get("gaps") or ()
        ],
        "jp_year": float(directory.jp_year.get(nip, 0.0)),
        "year": directory.year,
        "min_jp": app_settings(request).min_jp_per_year,
        "mentor": mentor,
        "mentor_nip": effective.mentor_nip,
        "mentor_name": directory.name(effective.mentor_nip) if effective.mentor_nip else None,
        **_mentor_identity(state, viewer, effective.mentor_nip),
        "mentor_competency": (
            directory.competency(str(mentor[c.COMPETENCY_ID]))
            if mentor and not effective.mentor_changed
            else None
        ),
        "risk": risk,
        "risk_high": risk is not None and risk >= threshold,
        "risk_threshold": threshold,
        "risk_reasons": state.risk_reasons(nip),
        "adapted": sum(1 for s in effective.steps if s.get("adapted_for_risk")),
        "box": box,
        "box_advice": ADVICE.get(box) if box else None,
        "history": _history(reviews, labels, directory),
        "relevant_courses": relevant,
        "other_courses": others,
        "supports_reorder": SUPPORTS_REORDER,
        "request_id": f"halaman-{uuid.uuid4().hex}",
    }


def _steps(
    effective: EffectivePlan, directory: Directory, state: ServingState, completed: set[str]
) -> list[dict[str, Any]]:
    missing = _missing_prerequisites(state, effective.steps, completed)
    out = []
    for step in effective.steps:
        cid = str(step[c.COURSE_ID])
        info = directory.course(cid) or {}
        out.append(
            {
                **step,
                "mode": info.get(c.MODE, ""),
                "provider": info.get(c.PROVIDER, ""),
                "competencies": [directory.competency(k) for k in step.get("competency_ids", ())],
                "missing_prerequisites": missing.get(cid, []),
                "added_by_manager": bool(step.get("added_by_manager", False)),
            }
        )
    return out


def plan_page(
    request: Request,
    viewer: Viewer,
    nip: str,
    *,
    saved: str = "",
    error: str | None = None,
    comment: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    context = _plan_context(request, viewer, nip)
    context.update(
        {
            "saved": saved if saved in _DECISIONS else "",
            "error": error,
            "comment": comment,
        }
    )
    return render(request, "employee.html", context, status_code=status_code)


@router.get("/pegawai/{nip}", response_class=HTMLResponse)
def employee_plan(
    request: Request,
    nip: Nip,
    viewer: ViewerDep,
    disimpan: Annotated[str, Query(max_length=20)] = "",
) -> HTMLResponse:
    return plan_page(request, viewer, nip, saved=disimpan)


# --- deciding -------------------------------------------------------------------------------------


def texts(form: FormData, name: str) -> list[str]:
    """The text values of a repeated field (uploads are not text and are ignored)."""
    return [v for v in form.getlist(name) if isinstance(v, str)]


def text(form: FormData, name: str) -> str:
    values = texts(form, name)
    return values[0] if values else ""


class FormProblem(Exception):
    """A decision the form cannot store as sent; the page is shown again with the message."""

    def __init__(self, message_key: str) -> None:
        super().__init__(message_key)
        self.message_key = message_key


def requested_changes(
    form: FormData,
    current: Sequence[str],
    is_addable: Callable[[str], bool],
) -> PlanChanges | None:
    """The changes a submitted form asks for, relative to the plan it showed (`current`)."""
    remove = [cid for cid in dict.fromkeys(texts(form, "remove")) if cid in current]
    add = []
    for cid in dict.fromkeys(v.strip() for v in texts(form, "add")):
        if not cid or cid in current:
            continue
        if not is_addable(cid):
            raise FormProblem("error_bad_course")
        add.append(cid)
    fields: dict[str, Any] = {}
    if remove:
        fields["remove_course_ids"] = remove
    if add:
        fields["add_course_ids"] = add
    if SUPPORTS_REORDER:
        order = requested_order(form, current, remove, add)
        if order is not None:
            fields[REORDER_FIELD] = order
    return PlanChanges(**fields) if fields else None


def position_number(value: str) -> float:
    """A step's position as typed: a finite number from 1 to 999 (else the form is refused;
    `nan` or `inf` would make the order of the sort meaningless)."""
    try:
        number = float(value)
    except ValueError:
        raise FormProblem("error_bad_position") from None
    if not math.isfinite(number) or not 1 <= number <= _MAX_POSITION:
        raise FormProblem("error_bad_position")
    return number


def requested_order(
    form: FormData, current: Sequence[str], remove: Sequence[str], add: Sequence[str]
) -> list[str] | None:
    """The full course order when the manager renumbered the steps; None when unchanged."""
    positions: dict[str, float] = {}
    for cid, value in zip(texts(form, "position_course"), texts(form, "position"), strict=False):
        if not value.strip():
            continue  # a cleared field keeps the step where it is
        positions[str(cid)] = position_number(value)
    kept = [cid for cid in current if cid not in remove]
    reordered = sorted(kept, key=lambda cid: (positions.get(cid, float("inf")), kept.index(cid)))
    if reordered == kept:
        return None
    return reordered + list(add)


def _store(
    session: Session,
    state: ServingState,
    viewer: Viewer,
    nip: str,
    decision: Decision,
    comment: str,
    changes: PlanChanges | None,
    request_id: str,
) -> None:
    try:
        body = PlanReviewCreate(
            decision=decision, comment=comment, changes=changes, request_id=request_id
        )
    except ValidationError as exc:
        raise PageError(400, "error_bad_form") from exc
    try:
        reviews.create_review(session, state, viewer.key, nip, body, request_id)
    except RequestValidationError as exc:  # the shared change rules (services.review_changes)
        rules = {error.get("type") for error in exc.errors()}
        if MISSING_PREREQUISITE in rules:
            raise FormProblem("error_missing_prerequisite") from exc
        raise FormProblem("error_change_refused") from exc
    except reviews.ReviewConflict as exc:
        raise PageError(409, "error_form_used") from exc


def _decide(request: Request, viewer: Viewer, nip: str, form: FormData) -> Response:
    check_csrf(request, viewer.csrf, text(form, "csrf_token"))
    if not viewer.can_review:
        raise PageError(403, "error_cannot_review")
    state = page_state(request)
    check_employee(state, viewer, nip)
    directory = directory_of(request, state)
    decision = text(form, "decision")
    request_id = text(form, "request_id")
    if decision not in _DECISIONS or not _REQUEST_ID.match(request_id):
        raise PageError(400, "error_bad_form")
    comment = text(form, "comment").strip()[:2000]

    def is_addable(course_id: str) -> bool:
        info = directory.course(course_id)
        return info is not None and bool(info[c.ACTIVE])

    with database(request) as session:
        reviews = fetch_reviews(session, [nip]).get(nip, [])
        effective = effective_plan(state, nip, reviews, directory.course)
        current = [str(s[c.COURSE_ID]) for s in effective.steps]
        try:
            changes = requested_changes(form, current, is_addable)
            if decision == Decision.CHANGED.value and changes is None:
                raise FormProblem("error_no_changes")
            if decision == Decision.REJECTED.value and not comment:
                raise FormProblem("error_reason_required")
            final = Decision(decision)
            if changes is not None:
                # Pending edits are stored first, so "approve" approves the plan as edited.
                note = comment if final is Decision.CHANGED else ""
                change_id = f"{request_id}.1"
                _store(session, state, viewer, nip, Decision.CHANGED, note, changes, change_id)
        except FormProblem as problem:
            return plan_page(
                request, viewer, nip, error=problem.message_key, comment=comment, status_code=400
            )
        if final is not Decision.CHANGED:
            _store(session, state, viewer, nip, final, comment, None, f"{request_id}.2")
    latest_reviews.of_app(request.app).expire()  # the API's plan GET shows the new review
    return redirect(f"{PREFIX}/pegawai/{nip}?disimpan={decision}#tinjauan")


@router.post("/pegawai/{nip}/tinjauan")
async def decide(request: Request, nip: Nip, viewer: ViewerDep) -> Response:
    form = await request.form(max_files=0, max_fields=400)
    return await run_in_threadpool(_decide, request, viewer, nip, form)
