"""Managers' decisions on plans: recorded durably, once per request id, with who and when.

The HTTP face of `serving.services.reviews` (which the manager pages call too): the request id
from the header or body, the access rule, and the status codes.

Plain `def` handlers: the database driver is synchronous, so FastAPI runs them in its
threadpool and the event loop stays free for the recommendation endpoints.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Request, Response, status
from fastapi.exceptions import RequestValidationError

from serving.deps import (
    ERRORS,
    KeyDep,
    NipPath,
    ReviewerDep,
    SessionDep,
    StateDep,
    authorize_employee,
)
from serving.schemas import (
    PlanReviewCreate,
    PlanReviewPublic,
    PlanReviewsPublic,
    RequestId,
)
from serving.services import latest_reviews, reviews

router = APIRouter(prefix="/v1/plans", tags=["reviews"])

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAY_HEADER = "Idempotent-Replayed"


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
    request: Request,
    response: Response,
    idempotency_key: Annotated[
        RequestId | None,
        Header(alias=IDEMPOTENCY_HEADER, description="Makes retries safe: one review per id."),
    ] = None,
) -> PlanReviewPublic:
    """Stored with the reviewer's key id and role, the time, and the model version that made
    the plan. Sending the same request id again returns the stored review (200) instead of
    storing a second one. A `changed` decision is checked against the catalog and the plan
    as it stands (see `serving.services.review_changes`): 422 naming each refused course or
    mentor."""
    request_id = _request_id(idempotency_key, body.request_id)
    authorize_employee(state, key, nip)
    try:
        stored = reviews.create_review(session, state, key, nip, body, request_id)
    except reviews.ReviewConflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    latest_reviews.of_app(request.app).expire()
    if stored.replayed:
        response.status_code = status.HTTP_200_OK
        response.headers[REPLAY_HEADER] = "true"
    return stored.review


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
    history = reviews.list_reviews(session, nip)
    if not history and not state.has(nip):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no active employee with this NIP")
    return PlanReviewsPublic(
        nip=nip,
        count=len(history),
        reviews=history,
        data_changed_since_review=reviews.changed_since_review(state, nip, history),
    )
