"""An employee's full development plan (the default budget; cached after the first request)."""

from __future__ import annotations

import math
import time

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from serving.deps import ERRORS, KeyDep, NipPath, PredictionLogDep, StateDep, authorize_employee
from serving.schemas import PlanPublic

router = APIRouter(prefix="/v1/employees", tags=["employees"])


@router.get(
    "/{nip}/plan",
    response_model=PlanPublic,
    responses=ERRORS,
    summary="Full development plan of one employee",
)
async def read_plan(
    nip: NipPath, state: StateDep, key: KeyDep, predictions: PredictionLogDep
) -> PlanPublic:
    """Gaps, the training path within the default JP budget, the assigned mentor (from the
    optimal assignment over all employees) and the participation risk with its note."""
    start = time.perf_counter()
    authorize_employee(state, key, nip)
    plan = state.cached_plan(nip)
    if plan is None:  # beyond the precomputed plans: plan off the event loop, then cached
        plan = await run_in_threadpool(state.plan, nip)
    result = PlanPublic.from_plan(plan, state.as_of.date(), state.default_jp_budget)
    steps = plan["training_path"]
    predictions.record(
        "plan",
        nip,
        state.model_version,
        [s["course_id"] for s in steps],
        [math.nan if s["score"] is None else float(s["score"]) for s in steps],
        plan["participation_risk"],
        (time.perf_counter() - start) * 1000.0,
    )
    return result
