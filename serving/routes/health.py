"""Liveness, readiness, a trivial JSON endpoint (the benchmark's floor) and metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, status
from fastapi.responses import JSONResponse, Response

from serving.deps import HolderDep
from serving.schemas import HealthPublic, PingPublic, ReadinessPublic

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthPublic, summary="The process is up")
async def healthz() -> HealthPublic:
    return HealthPublic()


@router.get(
    "/readyz",
    response_model=ReadinessPublic,
    responses={503: {"model": ReadinessPublic, "description": "Model or data not loaded."}},
    summary="The model and data are loaded",
)
async def readyz(holder: HolderDep) -> ReadinessPublic | JSONResponse:
    state = holder.state
    if state is None:
        body = ReadinessPublic(status="not_ready", last_error=holder.last_error)
        return JSONResponse(body.model_dump(mode="json"), status.HTTP_503_SERVICE_UNAVAILABLE)
    return ReadinessPublic(
        status="ready",
        model_name=state.model_name,
        model_version=state.model_version,
        as_of=state.as_of.date(),
        n_employees=state.n_employees,
        loaded_at=state.loaded_at,
        model_source=state.model_source,  # type: ignore[arg-type]
        model_source_note=state.source_note,
        last_error=holder.last_error,
    )


@router.get("/v1/ping", response_model=PingPublic, summary="Trivial JSON (benchmark baseline)")
async def ping() -> PingPublic:
    return PingPublic()


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format."}},
    summary="Prometheus metrics (requests, latency, model, prediction log)",
)
async def metrics(request: Request) -> Response:
    body, content_type = request.app.state.metrics.render_metrics()
    return Response(body, media_type=content_type)
