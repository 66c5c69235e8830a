"""Many employees' training paths in one call, for HR systems passing each one's budget.

Up to `BULK_MAX` items, each a `TrainingPathRequest`; the answer is streamed as JSON Lines in
the order of the items, one line per item: ``{"index": i, "status": 200, "result": {...}}``
with the training path, or ``{"index": i, "status": 404, "nip": ..., "detail": ...}`` for an
item that is invalid (422), unknown (404) or outside a manager's units (403). A bad item never
fails the batch. Items are answered in chunks in the threadpool, so a long batch does not
hold the event loop while single requests wait.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from serving.deps import (
    ERRORS,
    KeyDep,
    PredictionRecorder,
    get_prediction_log,
    get_state,
    may_read,
)
from serving.keys import ApiKey
from serving.schemas import BulkTrainingPathRequest
from serving.services.training_paths import BulkLine, bulk_line
from serving.state import ServingState

router = APIRouter(prefix="/v1/recommendations", tags=["recommendations"])

JSON_LINES = "application/x-ndjson"
#: Items answered per threadpool call (~0.3 ms each: the event loop is free between chunks).
CHUNK = 50


def _answer_chunk(
    state: ServingState,
    key: ApiKey,
    predictions: PredictionRecorder,
    items: list[Any],
    offset: int,
) -> bytes:
    lines: list[BulkLine] = []
    for i, item in enumerate(items, start=offset):
        start = time.perf_counter()
        line = bulk_line(state, lambda nip: may_read(state, key, nip), i, item)
        if line.answer is not None and line.nip is not None:
            predictions.record(
                "training_path",
                line.nip,
                state.model_version,
                list(line.answer.course_ids),
                list(line.answer.scores),
                line.answer.risk,
                (time.perf_counter() - start) * 1000.0,
            )
        lines.append(line)
    return b"".join(line.line for line in lines)


@router.post(
    "/training-path/bulk",
    responses={
        **ERRORS,
        200: {
            "content": {JSON_LINES: {}},
            "description": "One JSON line per item, in order: `{index, status: 200, result}` "
            "with the TrainingPathPublic object, or `{index, status, nip, detail}` for an item "
            "that is invalid (422), unknown (404) or outside your units (403).",
        },
        413: {"description": "The body is larger than KOMPETEN_SERVE_MAX_BODY_BYTES."},
    },
    response_class=StreamingResponse,
    summary="Training paths of many employees (up to 1,000), streamed as JSON Lines",
)
async def recommend_training_paths(
    body: BulkTrainingPathRequest, request: Request, key: KeyDep
) -> StreamingResponse:
    """Each item is answered as `POST /v1/recommendations/training-path` would answer it
    alone; errors are per item."""
    state = get_state(request)
    predictions = get_prediction_log(request)
    items = list(body.items)

    async def lines() -> AsyncIterator[bytes]:
        for lo in range(0, len(items), CHUNK):
            yield await run_in_threadpool(
                _answer_chunk, state, key, predictions, items[lo : lo + CHUNK], lo
            )

    return StreamingResponse(lines(), media_type=JSON_LINES)
