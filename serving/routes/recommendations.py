"""Recommendations for one employee: the training path and the best mentors.

The common request (an employee's whole training path at the default JP budget, from a caller
whose key was verified recently) is answered before FastAPI solves any dependency: the route
class `PrecomputedRoute` looks the JSON body up in the state (serialised at load), checks the
cached key and the caller's units, records the prediction and returns the bytes. Anything else
(another budget, `top_k`, an unknown or malformed NIP, a key not in the cache, a manager
outside its units, no state yet) falls through to the declared handler, which owns every check,
error and the OpenAPI description. Handlers are `async def` and read the state and prediction
log from `request.app.state` directly: a sync dependency would cost a threadpool hop each.
What is not precomputed (another JP budget, a first mentor ranking) runs in the threadpool
once and is cached.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from fastapi.routing import APIRoute

from features.columns import COURSE_MODES
from serving.deps import (
    ERRORS,
    KeyDep,
    PredictionRecorder,
    authorize_employee,
    get_prediction_log,
    get_state,
    may_read,
)
from serving.keys import ApiKey
from serving.schemas import (
    EXCLUDE_MAX,
    JP_BUDGET_MAX,
    TOP_K_MAX,
    MentorCandidatePublic,
    MentorRankingPublic,
    MentorRequest,
    TrainingPathPublic,
    TrainingPathRequest,
    nip_problem,
)
from serving.services.training_paths import (
    PathAnswer,
    PathOptions,
    UnknownCourses,
    is_cheap,
    precomputed,
    training_path_answer,
)
from serving.state import DefaultAnswer, ServingState
from serving.strict_json import parsed_body

router = APIRouter(prefix="/v1/recommendations", tags=["recommendations"])

JSON_MEDIA_TYPE = "application/json"
_TRAINING_PATH_FIELDS = frozenset({"nip", "jp_budget", "top_k", "exclude_course_ids", "modes"})
COURSE_ID_MAX = 64


def json_response(body: bytes | str) -> Response:
    """An already serialised JSON body as the response (no re-validation, no re-encoding)."""
    return Response(body, media_type=JSON_MEDIA_TYPE)


def _number(value: object) -> float:
    return float("nan") if value is None else float(value)  # type: ignore[arg-type]


def record_path(
    predictions: PredictionRecorder,
    kind: str,
    nip: str,
    state: ServingState,
    steps: list[dict[str, Any]],
    risk: float | None,
    start: float,
) -> None:
    """Record a served path: its course ids, their scores (NaN where a step has none)."""
    predictions.record(
        kind,
        nip,
        state.model_version,
        [s["course_id"] for s in steps],
        [_number(s["score"]) for s in steps],
        risk,
        (time.perf_counter() - start) * 1000.0,
    )


# --- the precomputed path -------------------------------------------------------------------------


def cached_caller(request: Request) -> ApiKey | None:
    """The caller if its key was verified within the cache TTL; None means "ask the handler".

    Reads the key as `serving.deps.require_key` does: `X-API-Key` first, else a bearer token.
    """
    headers = request.headers
    raw = headers.get("x-api-key")
    if not raw:
        scheme, _, credentials = (headers.get("authorization") or "").partition(" ")
        if scheme.lower() != "bearer":
            return None
        raw = credentials.strip()
    if not raw:
        return None
    return request.app.state.keys.cached(raw)


def send_answer(
    kind: str,
    body: bytes,
    answer: DefaultAnswer | PathAnswer,
    nip: str,
    state: ServingState,
    predictions: PredictionRecorder,
    start: float,
) -> Response:
    """Record the served prediction, then return its serialised body."""
    predictions.record(
        kind,
        nip,
        state.model_version,
        list(answer.course_ids),
        list(answer.scores),
        answer.risk,
        (time.perf_counter() - start) * 1000.0,
    )
    return json_response(body)


class PrecomputedRoute(APIRoute):
    """An APIRoute that first tries `precomputed(request)`; None falls through to the handler.

    The declared handler stays the route's contract (its parameters make the OpenAPI document,
    its checks make every error), so `precomputed` may only answer requests for which the
    handler would return exactly the same body. Dependency overrides (tests) disable it.
    """

    async def precomputed(self, request: Request) -> Response | None:
        return None

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        precomputed = self.precomputed

        async def answer(request: Request) -> Response:
            if not request.app.dependency_overrides:
                response = await precomputed(request)
                if response is not None:
                    return response
            return await handler(request)

        return answer


def _optional_int(value: object, upper: int) -> bool:
    """None, or an int the request model accepts as is (1..upper)."""
    return value is None or (type(value) is int and 1 <= value <= upper)


def _is_json(content_type: str | None) -> bool:
    return (content_type or "").partition(";")[0].strip().lower() == JSON_MEDIA_TYPE


def _plain_ids(value: object, upper: int) -> bool:
    """A list of course ids the request model accepts as they are."""
    return (
        type(value) is list
        and len(value) <= upper
        and all(type(x) is str and 1 <= len(x) <= COURSE_ID_MAX for x in value)
    )


def plain_options(payload: dict[str, Any]) -> PathOptions | None:
    """The options of a body in the plain shapes the request model takes unchanged, else None
    (pydantic's lax coercions, e.g. "40" or 40.0, and every error go to the handler)."""
    budget, top_k = payload.get("jp_budget"), payload.get("top_k")
    if not _optional_int(budget, JP_BUDGET_MAX) or not _optional_int(top_k, TOP_K_MAX):
        return None
    exclude = payload.get("exclude_course_ids", [])
    if not _plain_ids(exclude, EXCLUDE_MAX):
        return None
    modes = payload.get("modes")
    if modes is not None:
        if type(modes) is not list or not 1 <= len(modes) <= len(COURSE_MODES):
            return None
        if not all(type(m) is str and m in COURSE_MODES for m in modes):
            return None
    return PathOptions(budget, top_k, tuple(exclude), None if modes is None else tuple(modes))


class TrainingPathRoute(PrecomputedRoute):
    """Answers well-formed requests for employees whose path inputs are in memory here, on the
    event loop (building one path costs less than a threadpool hop)."""

    async def precomputed(self, request: Request) -> Response | None:
        start = time.perf_counter()
        state = request.app.state.holder.state
        if state is None or not _is_json(request.headers.get("content-type")):
            return None
        key = cached_caller(request)
        if key is None:
            return None
        parsed, payload = parsed_body(request.scope)  # by StrictJsonMiddleware, once
        if not parsed:  # not JSON: the handler answers with its 400/422
            return None
        if type(payload) is not dict or not payload.keys() <= _TRAINING_PATH_FIELDS:
            return None
        nip = payload.get("nip")
        options = plain_options(payload)
        if type(nip) is not str or options is None:
            return None
        nip = nip.replace(" ", "")
        answer: DefaultAnswer | PathAnswer | None = precomputed(state, nip, options)
        if answer is None:
            if not state.has(nip) or nip_problem(nip) is not None or not is_cheap(state, nip):
                return None
            try:
                answer = training_path_answer(state, nip, options)
            except UnknownCourses:
                return None
        if not may_read(state, key, nip):
            return None
        request.state.key_id = key.key_id
        predictions = request.app.state.predictions
        body = answer.training_path_body if isinstance(answer, DefaultAnswer) else answer.body
        return send_answer("training_path", body, answer, nip, state, predictions, start)


# --- the handlers ---------------------------------------------------------------------------------


def unknown_courses_error(exc: UnknownCourses) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc))


async def recommend_training_path(
    body: TrainingPathRequest, request: Request, key: KeyDep
) -> Response:
    """Ordered courses within the JP budget (and without the excluded courses or formats), the
    gaps they close, the participation risk and the reasons (Bahasa Indonesia and English) for
    every step and for the risk."""
    start = time.perf_counter()
    state = get_state(request)
    predictions = get_prediction_log(request)
    authorize_employee(state, key, body.nip)
    options = PathOptions.of(body)
    try:
        if is_cheap(state, body.nip):
            answer = training_path_answer(state, body.nip, options)
        else:  # beyond the precomputed employees: score them off the event loop, once
            answer = await run_in_threadpool(training_path_answer, state, body.nip, options)
    except UnknownCourses as exc:
        raise unknown_courses_error(exc) from None
    return send_answer("training_path", answer.body, answer, body.nip, state, predictions, start)


router.add_api_route(
    "/training-path",
    recommend_training_path,
    methods=["POST"],
    response_model=TrainingPathPublic,
    responses=ERRORS,
    summary="Training path that closes one employee's competency gaps",
    route_class_override=TrainingPathRoute,
)


@router.post(
    "/mentors",
    response_model=MentorRankingPublic,
    responses=ERRORS,
    summary="Eligible mentors for one employee, best first",
)
async def recommend_mentors(
    body: MentorRequest, request: Request, key: KeyDep
) -> MentorRankingPublic:
    """Mentors eligible under the pairing rules for the employee's largest weighted gap,
    ranked by predicted benefit, each with the reason in both languages."""
    start = time.perf_counter()
    state = get_state(request)
    predictions = get_prediction_log(request)
    authorize_employee(state, key, body.nip)
    ranked = None
    if state.has_mentors:
        ranked = state.cached_mentor_ranking(body.nip, body.top_k)
        if ranked is None:
            ranked = await run_in_threadpool(state.mentor_ranking, body.nip, body.top_k)
    rows = [] if ranked is None else ranked.to_dict("records")
    mentors = [
        MentorCandidatePublic(
            rank=int(r["rank"]),
            mentor_nip=str(r["mentor_nip"]),
            competency_id=str(r["competency_id"]),
            score=r["score"],
            reason_id=str(r["reason_id"]),
            reason_en=str(r["reason_en"]),
        )
        for r in rows
    ]
    result = MentorRankingPublic(
        nip=body.nip,
        model_version=state.model_version,
        as_of=state.as_of.date(),
        competency_id=mentors[0].competency_id if mentors else None,
        mentors=mentors,
    )
    predictions.record(
        "mentors",
        body.nip,
        state.model_version,
        [m.mentor_nip for m in mentors],
        [math.nan if m.score is None else m.score for m in mentors],
        None,
        (time.perf_counter() - start) * 1000.0,
    )
    return result
