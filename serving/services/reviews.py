"""Managers' decisions on plans, as one use-case for the API and the pages: check a change,
store the decision once per (key, request id), list the history.

The callers authorise first (the API by key and unit scope, the pages by the signed-in
manager's scope) and translate the outcomes: `ReviewConflict` is a 409 for the API and an
error page for the form; a refused change (`RequestValidationError` from
`serving.services.review_changes.check_changes`) a 422 naming each item, or the form shown again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from serving.db import PlanReviewRecord, as_utc
from serving.keys import ApiKey
from serving.schemas import Decision, PlanChanges, PlanReviewCreate, PlanReviewPublic
from serving.services import review_changes
from serving.services.plans import changed_budget, data_changed, fetch_reviews, plan_digest
from serving.state import ServingState


class ReviewConflict(Exception):
    """The request id was already used, by the same key, for a different review."""


@dataclass(frozen=True)
class StoredReview:
    """The review as stored, and whether this call only replayed an earlier one."""

    review: PlanReviewPublic
    replayed: bool


def public(record: PlanReviewRecord) -> PlanReviewPublic:
    return PlanReviewPublic(
        id=record.id,
        request_id=record.request_id,
        nip=record.nip,
        decision=Decision(record.decision),
        comment=record.comment,
        changes=None if record.changes is None else PlanChanges.model_validate(record.changes),
        model_version=record.model_version,
        plan_digest=record.plan_digest,
        reviewer_key_id=record.key_id,
        reviewer_role=record.role,
        created_at=as_utc(record.created_at),
    )


def _payload(nip: str, body: PlanReviewCreate) -> dict[str, Any]:
    return {
        "nip": nip,
        "decision": body.decision.value,
        "comment": body.comment,
        "changes": None if body.changes is None else body.changes.model_dump(mode="json"),
    }


def _same(record: PlanReviewRecord, payload: dict[str, Any]) -> bool:
    return {
        "nip": record.nip,
        "decision": record.decision,
        "comment": record.comment,
        "changes": record.changes,
    } == payload


def _find(session: Session, key: ApiKey, request_id: str) -> PlanReviewRecord | None:
    return session.scalar(
        select(PlanReviewRecord).where(
            PlanReviewRecord.key_id == key.key_id, PlanReviewRecord.request_id == request_id
        )
    )


def _replay(record: PlanReviewRecord, payload: dict[str, Any]) -> StoredReview:
    if not _same(record, payload):
        raise ReviewConflict("this request id was already used for a different review")
    return StoredReview(public(record), replayed=True)


def create_review(
    session: Session,
    state: ServingState,
    key: ApiKey,
    nip: str,
    body: PlanReviewCreate,
    request_id: str,
) -> StoredReview:
    """Store `key`'s decision on `nip`'s plan (with the model version that made the plan).

    The same request id again returns the stored review (`replayed`) instead of a second one;
    a `changed` decision is checked against the catalog and the plan as it stands first.
    """
    payload = _payload(nip, body)
    existing = _find(session, key, request_id)
    if existing is not None:
        return _replay(existing, payload)
    if body.changes is not None:
        review_changes.check_changes(session, state, key, nip, body.changes)
    record = PlanReviewRecord(
        request_id=request_id,
        key_id=key.key_id,
        role=key.role.value,
        model_version=state.model_version,
        plan_digest=reviewed_digest(session, state, nip, body.changes),
        **payload,
    )
    session.add(record)
    try:
        session.commit()
    except IntegrityError:  # the same request raced us to the insert
        session.rollback()
        existing = _find(session, key, request_id)
        if existing is None:
            raise
        return _replay(existing, payload)
    return StoredReview(public(record), replayed=False)


def reviewed_digest(
    session: Session, state: ServingState, nip: str, changes: PlanChanges | None
) -> str:
    """The digest of the model's plan this decision rests on: at the JP budget in force after
    it (this change's budget, else the latest one set before, else the default), the budget
    `serving.services.plans.effective_plan` shows the plan at afterwards.

    Blocking when that budget's plan is not cached: the callers run in worker threads.
    """
    budget = None if changes is None else changes.jp_budget
    if budget is None:
        budget = changed_budget(fetch_reviews(session, [nip]).get(nip, []))
    plan = state.cached_plan(nip, budget) or state.plan(nip, budget)
    return plan_digest(plan, state.default_jp_budget if budget is None else budget)


def current_digest(state: ServingState, nip: str, budget: int | None) -> str | None:
    """The digest of `nip`'s model plan now, at `budget` (None: the default); None for an
    employee who is no longer active. Blocking off the cache: call from a worker thread."""
    if not state.has(nip):
        return None
    plan = state.cached_plan(nip, budget) or state.plan(nip, budget)
    return plan_digest(plan, state.default_jp_budget if budget is None else budget)


def changed_since_review(
    state: ServingState, nip: str, history: list[PlanReviewPublic]
) -> bool | None:
    """Whether `nip`'s plan now differs from the one the latest review (of `history`, oldest
    first) was made on; None without a review or when it carries no digest."""
    if not history or history[-1].plan_digest is None:
        return None
    budget = None
    for review in history:
        if review.changes is not None and review.changes.jp_budget is not None:
            budget = review.changes.jp_budget
    return data_changed(history[-1].plan_digest, current_digest(state, nip, budget))


def list_reviews(session: Session, nip: str) -> list[PlanReviewPublic]:
    """Every decision recorded for `nip`, oldest first."""
    records = session.scalars(
        select(PlanReviewRecord)
        .where(PlanReviewRecord.nip == nip)
        .order_by(PlanReviewRecord.created_at, PlanReviewRecord.id)
    )
    return [public(r) for r in records]
