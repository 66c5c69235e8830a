"""An employee's full development plan at the default budget (serialised at load).

Like the training path, the common request is answered by `PlanRoute` from the body the state
serialised at load; everything else goes to the declared handler (see
`serving.routes.recommendations.PrecomputedRoute`).
"""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from serving.deps import (
    ERRORS,
    KeyDep,
    NipPath,
    authorize_employee,
    get_prediction_log,
    get_state,
    may_read,
)
from serving.routes.recommendations import (
    PrecomputedRoute,
    cached_caller,
    json_response,
    record_path,
    send_answer,
)
from serving.schemas import EmployeePlanPublic
from serving.services import latest_reviews
from serving.services.plans import data_changed
from serving.services.reviews import current_digest
from serving.state import ServingState

router = APIRouter(prefix="/v1/employees", tags=["employees"])


class PlanRoute(PrecomputedRoute):
    async def precomputed(self, request: Request) -> Response | None:
        start = time.perf_counter()
        state = request.app.state.holder.state
        if state is None:
            return None
        key = cached_caller(request)
        if key is None:
            return None
        nip = str(request.path_params.get("nip", "")).replace(" ", "")
        answer = state.cached_answer(nip)
        if answer is None or not may_read(state, key, nip):
            return None
        index = latest_reviews.of_app(request.app)
        if not index.fresh():
            return None
        flag = latest_reviews.cached_flag(state, nip, index.get(nip))
        if flag is None:
            return None
        request.state.key_id = key.key_id
        predictions = request.app.state.predictions
        body = latest_reviews.with_flag(answer.plan_body, flag)
        return send_answer("plan", body, answer, nip, state, predictions, start)


async def _flag(request: Request, state: ServingState, nip: str) -> bool | None:
    """`data_changed_since_review` for the general path (refresh and plan off the loop)."""
    index = latest_reviews.of_app(request.app)
    if not index.fresh():
        await run_in_threadpool(index.refresh)
    latest = index.get(nip)
    if latest is None or latest.digest is None:
        return None
    current = await run_in_threadpool(current_digest, state, nip, latest.jp_budget)
    return data_changed(latest.digest, current)


async def read_plan(nip: NipPath, request: Request, key: KeyDep) -> Response:
    """Gaps, the training path within the default JP budget, the assigned mentor (from the
    optimal assignment over all employees) and the participation risk with its note.
    `data_changed_since_review` compares the plan with the one the latest review was made
    on (null without a review)."""
    start = time.perf_counter()
    state = get_state(request)
    predictions = get_prediction_log(request)
    authorize_employee(state, key, nip)
    flag = await _flag(request, state, nip)
    answer = state.cached_answer(nip)
    if answer is not None:
        body = latest_reviews.with_flag(answer.plan_body, latest_reviews.FLAG_JSON[flag])
        return send_answer("plan", body, answer, nip, state, predictions, start)
    plan = state.cached_plan(nip)
    if plan is None:  # beyond the precomputed plans: plan off the event loop, then cached
        plan = await run_in_threadpool(state.plan, nip)
    result = EmployeePlanPublic.from_plan(
        plan, state.as_of.date(), state.default_jp_budget, data_changed_since_review=flag
    )
    steps = plan["training_path"]
    record_path(predictions, "plan", nip, state, steps, plan["participation_risk"], start)
    return json_response(result.model_dump_json())


router.add_api_route(
    "/{nip}/plan",
    read_plan,
    methods=["GET"],
    response_model=EmployeePlanPublic,
    responses=ERRORS,
    summary="Full development plan of one employee",
    route_class_override=PlanRoute,
)
