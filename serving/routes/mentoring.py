"""Mentor assignment for a whole unit: who mentors whom, optimally under capacity."""

from __future__ import annotations

import math
import time

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from serving.deps import ERRORS, KeyDep, PredictionLogDep, StateDep, authorize_unit
from serving.schemas import MentorAssignmentPublic, MentorAssignmentRequest, MentorPairPublic

router = APIRouter(prefix="/v1/mentoring", tags=["mentoring"])


@router.post(
    "/assignments",
    response_model=MentorAssignmentPublic,
    responses=ERRORS,
    summary="Optimal mentor assignment for a unit and its sub-units",
)
async def assign_mentors(
    body: MentorAssignmentRequest, state: StateDep, key: KeyDep, predictions: PredictionLogDep
) -> MentorAssignmentPublic:
    """Pairs every employee with a gap in the unit (and its sub-units) with an eligible mentor
    from the same units, maximising the total predicted benefit; each mentor takes at most
    `capacity` mentees, ongoing mentorships included. Employees without an eligible mentor
    with room are left out."""
    start = time.perf_counter()
    authorize_unit(state, key, body.unit_id)
    cached = state.cached_assignment(body.unit_id, body.capacity)
    pairs = (  # an unusual capacity: solve off the event loop, then it is cached
        cached
        if cached is not None
        else await run_in_threadpool(state.assignment, body.unit_id, body.capacity)
    )
    rows = pairs.to_dict("records")
    out = [
        MentorPairPublic(
            mentee_nip=str(r["mentee_nip"]),
            mentor_nip=str(r["mentor_nip"]),
            competency_id=str(r["competency_id"]),
            score=r["score"],
            reason_id=str(r.get("reason_id") or ""),
            reason_en=str(r.get("reason_en") or ""),
        )
        for r in rows
    ]
    scores = [math.nan if p.score is None else p.score for p in out]
    result = MentorAssignmentPublic(
        unit_id=body.unit_id,
        unit_name=state.unit_names.get(body.unit_id, ""),
        units=sorted(state.unit_scope[body.unit_id]),
        capacity=state.default_capacity if body.capacity is None else body.capacity,
        model_version=state.model_version,
        as_of=state.as_of.date(),
        n_employees=len(state.unit_members(body.unit_id)),
        n_assigned=len(out),
        total_score=math.fsum(s for s in scores if math.isfinite(s)),
        pairs=out,
    )
    latency = (time.perf_counter() - start) * 1000.0
    for pair, score in zip(out, scores, strict=True):
        predictions.record(
            "mentor_assignment",
            pair.mentee_nip,
            state.model_version,
            [pair.mentor_nip],
            [score],
            None,
            latency,
        )
    return result
