"""Operations: load a newly promoted champion (or new data) without restarting."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from serving.deps import ERRORS, AnalystDep, HolderDep
from serving.schemas import ReloadPublic

router = APIRouter(prefix="/v1/admin", tags=["admin"])
#: How long a reload request waits for one already running (e.g. the poll's) before 409.
RELOAD_WAIT_S = 30.0


@router.post(
    "/reload",
    response_model=ReloadPublic,
    responses={
        **ERRORS,
        409: {"model": ReloadPublic, "description": "Another reload is still running."},
        503: {"model": ReloadPublic, "description": "The reload failed; the old state serves."},
    },
    summary="Load the current champion and data now",
)
async def reload_model(
    holder: HolderDep,
    key: AnalystDep,
    force: Annotated[
        bool, Query(description="Rebuild even if the version and data are unchanged.")
    ] = False,
) -> ReloadPublic | JSONResponse:
    """Builds the new state completely off the request path, then swaps it in at once. When
    anything fails the previous state keeps serving and `reason` says what went wrong."""
    outcome = await run_in_threadpool(holder.reload, force, RELOAD_WAIT_S)
    body = ReloadPublic(
        status=outcome.status,
        model_version=outcome.model_version,
        previous_model_version=outcome.previous_model_version,
        reason=outcome.reason,
        seconds=round(outcome.seconds, 3),
    )
    if outcome.status == "failed":
        return JSONResponse(body.model_dump(mode="json"), status.HTTP_503_SERVICE_UNAVAILABLE)
    if outcome.status == "busy":
        return JSONResponse(body.model_dump(mode="json"), status.HTTP_409_CONFLICT)
    return body
