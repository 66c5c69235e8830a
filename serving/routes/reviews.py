"""Managers' decisions on plans: recorded durably, once per request id, with who and when.

Plain `def` handlers: the database driver is synchronous, so FastAPI runs them in its
threadpool and the event loop stays free for the recommendation endpoints.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Response, status
from fastapi.exceptions import RequestValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from serving import review_changes
from serving.db import PlanReviewRecord, as_utc
from serving.deps import (
    ERRORS,
    KeyDep,
    NipPath,
    ReviewerDep,
    SessionDep,
    StateDep,
    authorize_employee,
)
from serving.keys import ApiKey
from serving.schemas import (
    Decision,
    PlanChanges,
    PlanReviewCreate,
    PlanReviewPublic,
    PlanReviewsPublic,
    RequestId,
)

router = APIRouter(prefix="/v1/plans", tags=["reviews"])

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAY_HEADER = "Idempotent-Replayed"


def _public(record: PlanReviewRecord) -> PlanReviewPublic:
    return PlanReviewPublic(
        id=record.id,
        request_id=record.request_id,
        nip=record.nip,
        decision=Decision(record.decision),
        comment=record.comment,
        changes=None if record.changes is None else PlanChanges.model_validate(record.changes),
        model_version=record.model_version,
        reviewer_key_id=record.key_id,
        reviewer_role=record.role,
        created_at=as_utc(record.created_at),
    )


def _request_id(header: str | None, body: str | None) -> str:
    if header and body and header != body:
        raise RequestValidationError(
            [
                {
                    "type": "value_error",
                    "loc": ("body", "request_id"),
                    "msg": f"request_id differs from the {IDEMPOTENCY_HEADER} header",
                    "input": body,
                }
            ]
        )
    value = header or body
    if not value:
        raise RequestValidationError(
            [
                {
                    "type": "missing",
                    "loc": ("header", IDEMPOTENCY_HEADER),
                    "msg": f"send an {IDEMPOTENCY_HEADER} header (or a request_id field) so "
                    "that a retried review is stored once",
                    "input": None,
                }
            ]
        )
    return value


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


def _find(session: Any, key: ApiKey, request_id: str) -> PlanReviewRecord | None:
    return session.scalar(
        select(PlanReviewRecord).where(
            PlanReviewRecord.key_id == key.key_id, PlanReviewRecord.request_id == request_id
        )
    )


def _replay(
    record: PlanReviewRecord, payload: dict[str, Any], response: Response
) -> PlanReviewPublic:
    if not _same(record, payload):
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            "this request id was already used for a different review",
        )
    response.status_code = status.HTTP_200_OK
    response.headers[REPLAY_HEADER] = "true"
    return _public(record)


@router.post(
    "/{nip}/review",
    response_model=PlanReviewPublic,
    status_code=status.HTTP_201_CREATED,
    responses={
        **ERRORS,
        200: {"model": PlanReviewPublic, "description": "A retry: the review stored earlier."},
        409: {"description": "The request id was used for a different review."},
        422: {"description": "Invalid body, or an added course whose prerequisites are missing."},
    },
    summary="Approve, reject or change an employee's plan",
)
def create_review(
    nip: NipPath,
    body: PlanReviewCreate,
    key: ReviewerDep,
    state: StateDep,
    session: SessionDep,
    response: Response,
    idempotency_key: Annotated[
        RequestId | None,
        Header(alias=IDEMPOTENCY_HEADER, description="Makes retries safe: one review per id."),
    ] = None,
) -> PlanReviewPublic:
    """Stored with the reviewer's key id and role, the time, and the model version that made
    the plan. Sending the same request id again returns the stored review (200) instead of
    storing a second one. A `changed` decision is checked against the catalog and the plan
    as it stands (see `serving.review_changes`): 422 naming each refused course or mentor."""
    request_id = _request_id(idempotency_key, body.request_id)
    authorize_employee(state, key, nip)
    payload = _payload(nip, body)
    existing = _find(session, key, request_id)
    if existing is not None:
        return _replay(existing, payload, response)
    if body.changes is not None:
        review_changes.check_changes(session, state, key, nip, body.changes)
    record = PlanReviewRecord(
        request_id=request_id,
        key_id=key.key_id,
        role=key.role.value,
        model_version=state.model_version,
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
        return _replay(existing, payload, response)
    return _public(record)


@router.get(
    "/{nip}/reviews",
    response_model=PlanReviewsPublic,
    responses=ERRORS,
    summary="Review history of an employee's plans, oldest first",
)
def list_reviews(
    nip: NipPath, key: KeyDep, state: StateDep, session: SessionDep
) -> PlanReviewsPublic:
    """Every decision recorded for the employee. HR systems and analysts also see the history
    of employees who are no longer active."""
    if state.has(nip) or not key.reads_all:
        authorize_employee(state, key, nip)
    records = list(
        session.scalars(
            select(PlanReviewRecord)
            .where(PlanReviewRecord.nip == nip)
            .order_by(PlanReviewRecord.created_at, PlanReviewRecord.id)
        )
    )
    if not records and not state.has(nip):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no active employee with this NIP")
    reviews = [_public(r) for r in records]
    return PlanReviewsPublic(nip=nip, count=len(reviews), reviews=reviews)
