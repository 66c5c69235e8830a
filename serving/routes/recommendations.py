"""Recommendations for one employee: the training path and the best mentors.

Handlers are `async def` on purpose: the common request is answered from state precomputed at
load (a dict lookup and a pydantic model), cheaper on the event loop than a threadpool hop.
What is not precomputed (another JP budget, a first mentor ranking) runs in the threadpool
once and is cached.
"""

from __future__ import annotations

import math
import time

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from serving.deps import ERRORS, KeyDep, PredictionLogDep, StateDep, authorize_employee
from serving.schemas import (
    MentorCandidatePublic,
    MentorRankingPublic,
    MentorRequest,
    TrainingPathPublic,
    TrainingPathRequest,
)

router = APIRouter(prefix="/v1/recommendations", tags=["recommendations"])


def _number(value: object) -> float:
    return float("nan") if value is None else float(value)  # type: ignore[arg-type]


@router.post(
    "/training-path",
    response_model=TrainingPathPublic,
    responses=ERRORS,
    summary="Training path that closes one employee's competency gaps",
)
async def recommend_training_path(
    body: TrainingPathRequest, state: StateDep, key: KeyDep, predictions: PredictionLogDep
) -> TrainingPathPublic:
    """Ordered courses within the JP budget, the gaps they close, the participation risk and
    the reasons (Bahasa Indonesia and English) for every step and for the risk."""
    start = time.perf_counter()
    authorize_employee(state, key, body.nip)
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
    predictions.record(
        "training_path",
        body.nip,
        state.model_version,
        [s["course_id"] for s in shown],
        [_number(s["score"]) for s in shown],
        plan["participation_risk"],
        (time.perf_counter() - start) * 1000.0,
    )
    return result


@router.post(
    "/mentors",
    response_model=MentorRankingPublic,
    responses=ERRORS,
    summary="Eligible mentors for one employee, best first",
)
async def recommend_mentors(
    body: MentorRequest, state: StateDep, key: KeyDep, predictions: PredictionLogDep
) -> MentorRankingPublic:
    """Mentors eligible under the pairing rules for the employee's largest weighted gap,
    ranked by predicted benefit, each with the reason in both languages."""
    start = time.perf_counter()
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
