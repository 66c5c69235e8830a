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

import json
import math
import time
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from fastapi.routing import APIRoute

from serving.deps import (
    ERRORS,
    KeyDep,
    PredictionRecorder,
    authorize_employee,
    get_prediction_log,
    get_state,
)
from serving.keys import ApiKey
from serving.schemas import (
    JP_BUDGET_MAX,
    TOP_K_MAX,
    MentorCandidatePublic,
    MentorRankingPublic,
    MentorRequest,
    TrainingPathPublic,
    TrainingPathRequest,
)
from serving.state import DefaultAnswer, ServingState

router = APIRouter(prefix="/v1/recommendations", tags=["recommendations"])

JSON_MEDIA_TYPE = "application/json"
_TRAINING_PATH_FIELDS = frozenset({"nip", "jp_budget", "top_k"})


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


def may_read(state: ServingState, key: ApiKey, nip: str) -> bool:
    """What `authorize_employee` allows, as a yes/no (the handler raises the 403/404)."""
    if key.reads_all:
        return True
    return state.unit_of.get(nip) in state.scope_of(key.units)


def precomputed_training_path(
    state: ServingState, nip: str, jp_budget: int | None, top_k: int | None
) -> DefaultAnswer | None:
    """The precomputed answer when the request asks for exactly it: the default budget and a
    `top_k` that does not cut the path."""
    if jp_budget is not None and jp_budget != state.default_jp_budget:
        return None
    answer = state.cached_answer(nip)
    if answer is None or (top_k is not None and top_k < len(answer.course_ids)):
        return None
    return answer


def send_answer(
    kind: str,
    body: bytes,
    answer: DefaultAnswer,
    nip: str,
    state: ServingState,
    predictions: PredictionRecorder,
    start: float,
) -> Response:
    """Record the served prediction, then return the precomputed body."""
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


class TrainingPathRoute(PrecomputedRoute):
    async def precomputed(self, request: Request) -> Response | None:
        start = time.perf_counter()
        state = request.app.state.holder.state
        if state is None or not _is_json(request.headers.get("content-type")):
            return None
        key = cached_caller(request)
        if key is None:
            return None
        try:
            payload = json.loads(await request.body())
        except (ValueError, RecursionError):  # the handler answers these with its 400/422
            return None
        # Only the plain shapes; pydantic's lax coercions (e.g. "40" or 40.0) go to the handler.
        if type(payload) is not dict or not payload.keys() <= _TRAINING_PATH_FIELDS:
            return None
        nip, budget, top_k = payload.get("nip"), payload.get("jp_budget"), payload.get("top_k")
        if type(nip) is not str or not _optional_int(budget, JP_BUDGET_MAX):
            return None
        if not _optional_int(top_k, TOP_K_MAX):
            return None
        nip = nip.replace(" ", "")
        answer = precomputed_training_path(state, nip, budget, top_k)
        if answer is None or not may_read(state, key, nip):
            return None
        request.state.key_id = key.key_id
        predictions = request.app.state.predictions
        body = answer.training_path_body
        return send_answer("training_path", body, answer, nip, state, predictions, start)


# --- the handlers ---------------------------------------------------------------------------------


async def recommend_training_path(
    body: TrainingPathRequest, request: Request, key: KeyDep
) -> Response:
    """Ordered courses within the JP budget, the gaps they close, the participation risk and
    the reasons (Bahasa Indonesia and English) for every step and for the risk."""
    start = time.perf_counter()
    state = get_state(request)
    predictions = get_prediction_log(request)
    authorize_employee(state, key, body.nip)
    answer = precomputed_training_path(state, body.nip, body.jp_budget, body.top_k)
    if answer is not None:
        body_bytes = answer.training_path_body
        return send_answer("training_path", body_bytes, answer, body.nip, state, predictions, start)
    budget = state.default_jp_budget if body.jp_budget is None else body.jp_budget
    plan = state.cached_plan(body.nip, budget)
    if plan is None:  # a budget nobody asked for yet: plan off the event loop, then cached
        plan = await run_in_threadpool(state.plan, body.nip, budget)
    steps = plan["training_path"]
    shown = steps if body.top_k is None else steps[: body.top_k]
    result = TrainingPathPublic.from_plan(
        {**plan, "training_path": shown, "total_jp": sum(int(s["hours_jp"]) for s in shown)},
        state.as_of.date(),
        budget,
        risk_reasons=state.risk_reasons(body.nip),
        truncated=len(shown) < len(steps),
    )
    record_path(
        predictions, "training_path", body.nip, state, shown, plan["participation_risk"], start
    )
    return json_response(result.model_dump_json())


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
