"""The FastAPI application: `create_app()` builds it, `lifespan` loads the model and data.

Nothing is loaded at import time. Start-up opens the review database, starts the prediction
log, and begins loading the champion; the service answers /healthz at once and /readyz turns
200 when the first state is in. A background task polls for a new champion or new data and
swaps states without a restart; when MLflow is unreachable it keeps serving what it has.

Run it with `kompeten serve` (uvicorn, factory mode).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from features.database import make_engine
from features.dataset_store import DatasetStore, revision_signature
from features.settings import Settings, get_settings
from serving.body_limit import BodyLimitMiddleware
from serving.data_refresh import Refresher
from serving.db import create_schema, session_factory
from serving.keys import KeyStore
from serving.metrics import PrometheusMiddleware, ServingMetrics
from serving.pages import install as install_pages
from serving.routes import (
    admin,
    bulk_paths,
    data,
    employees,
    health,
    mentoring,
    recommendations,
    reviews,
)
from serving.state import CHAMPION
from serving.state_holder import StateHolder, StateSource
from serving.strict_json import StrictJsonMiddleware, validation_error_handler

logger = logging.getLogger("kompeten.serving")

DESCRIPTION = """
Competency-development recommendations for ASN (civil servants): training paths that close
competency gaps within the JP budget, mentor pairings, and participation risk, with reasons
in Bahasa Indonesia and English.

Every recommendation carries the `model_version` of the registered `kompeten-planner` that
made it. Authenticate with an API key (`kompeten keys create`) in the `X-API-Key` header or
as `Authorization: Bearer <key>`.
"""


class CatchAllMiddleware:
    """Any unhandled error becomes a JSON 500 with an error id; the traceback goes to the log
    only (with the route template, not the raw path, which may hold an NIP)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            error_id = uuid.uuid4().hex[:12]
            route = getattr(scope.get("route"), "path", "<unmatched>")
            logger.exception("unhandled error %s in %s %s", error_id, scope.get("method"), route)
            if started:
                raise
            response = JSONResponse(
                {"detail": "internal error; the service logged it", "error_id": error_id},
                status_code=500,
            )
            await response(scope, receive, send)


def _prediction_log(settings: Settings) -> Any:
    """Record-only when a separate shipper process ships (see serving.prediction_shipper)."""
    from serving.prediction_log import PredictionLog, PredictionLogConfig, Role

    role: Role = "record" if settings.serve.prediction_shipping == "process" else "both"
    return PredictionLog(settings, PredictionLogConfig(role=role))


async def _poll_data(refresher: Refresher, store: DatasetStore, interval: float) -> None:
    """Every `interval` seconds, one-row check of the store's revision; a new one (another
    worker or host ingested) rebuilds the state from the store with the same model."""
    while True:
        await asyncio.sleep(interval)
        state = refresher.holder.state
        try:
            revision = await asyncio.to_thread(store.revision)
            # a state served from the local champion copy has its signature prefixed
            if state is not None and not state.data_signature.endswith(
                revision_signature(revision)
            ):
                await refresher.request(wait=True)
        except Exception:  # a database blip: the next round tries again
            logger.warning("data poll failed", exc_info=True)


async def _poll(holder: StateHolder, interval: float) -> None:
    """Check for a new champion or new data every `interval` seconds, forever."""
    while True:
        await asyncio.sleep(interval)
        try:
            await asyncio.to_thread(holder.reload, False, 0.0)
        except Exception:  # reload() reports its own failures; this is a last guard
            logger.exception("model poll failed")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    serving = settings.serve
    settings.ensure_home()
    warning = settings.secret_warning()
    if warning:
        logger.warning(warning)
    engine = make_engine(settings.resolved_database_url)
    await asyncio.to_thread(create_schema, engine)
    app.state.sessions = session_factory(engine)
    holder: StateHolder = app.state.holder
    store = await asyncio.to_thread(getattr, holder.source, "store", None)
    if not isinstance(store, DatasetStore):  # a test's own state source: a store of its own
        store = DatasetStore(engine)
        await asyncio.to_thread(store.create_schema)
    app.state.dataset_store = store
    refresher = app.state.refresher = Refresher(holder)
    app.state.keys = KeyStore(app.state.sessions, ttl=serving.key_cache_ttl_s)
    predictions = app.state.prediction_log_factory(settings)
    await asyncio.to_thread(predictions.start)
    app.state.predictions = predictions
    if hasattr(predictions, "stats") and not getattr(app.state, "log_watched", False):
        app.state.metrics.watch_prediction_log(predictions)
        app.state.log_watched = True
    tasks: list[asyncio.Task[Any]] = []
    first = asyncio.create_task(asyncio.to_thread(holder.reload))
    tasks.append(first)
    if serving.startup_wait_s > 0:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(first), serving.startup_wait_s)
    if settings.model_poll_seconds > 0:
        tasks.append(asyncio.create_task(_poll(holder, settings.model_poll_seconds)))
    if settings.data_poll_seconds > 0 and hasattr(holder.source, "store"):
        tasks.append(asyncio.create_task(_poll_data(refresher, store, settings.data_poll_seconds)))
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await refresher.stop()
        await asyncio.to_thread(predictions.stop)
        engine.dispose()


def create_app(
    settings: Settings | None = None,
    source: StateSource | None = None,
    prediction_log: Any | None = None,
) -> FastAPI:
    """The app. Defaults read the environment (`get_settings()`, with its `serve` and `pages`
    sections); tests pass their own settings and source."""
    settings = settings or get_settings()
    if source is None:
        from serving.loader import MlflowStateSource

        source = MlflowStateSource(settings)
    app = FastAPI(
        title="kompeten",
        summary="Recommendations for ASN competency development",
        description=DESCRIPTION,
        version="1",
        lifespan=lifespan,
    )
    app.state.settings = settings
    holder = StateHolder(source)
    metrics = ServingMetrics()
    holder.on_swap.append(
        lambda state: metrics.set_model(state.model_name, state.model_version, CHAMPION)
    )
    app.state.holder = holder
    app.state.metrics = metrics
    app.state.prediction_log_factory = (
        (lambda *_: prediction_log) if prediction_log is not None else _prediction_log
    )
    app.add_middleware(StrictJsonMiddleware)  # NaN/Infinity bodies: 422 before any handler
    # Outside it: an oversized body is refused (413) before anything reads it whole.
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.serve.max_body_bytes)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_middleware(CatchAllMiddleware)
    app.add_middleware(PrometheusMiddleware, metrics=metrics)  # outermost: counts the 500s too
    routers = (health, recommendations, bulk_paths, employees, mentoring, reviews, data, admin)
    for module in routers:
        app.include_router(module.router)
    install_pages(app)  # manager pages under /halaman and their static files

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        """Managers type the bare address: send them to the pages' sign-in."""
        return RedirectResponse("/halaman/", status_code=307)

    return app
