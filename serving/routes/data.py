"""Live data from HR systems: `POST /v1/data/{table}` (and several tables at once, `/v1/data`).

A batch is checked merged with the stored data by the same validator as `kompeten validate`
and stored in one transaction or not at all (`features.dataset_store`). After a batch that
changed something, this worker recomputes its plans from the store with the current model
(no retraining); other workers and hosts notice the new revision within
`KOMPETEN_DATA_POLL_SECONDS`.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from features.contract import TABLES
from features.dataset_store import (
    MAX_BATCH_ROWS,
    Batch,
    IngestResult,
    batch_from_csv,
    batch_from_records,
)
from features.report import Violation
from serving.data_refresh import Refresher
from serving.deps import ERRORS, DatasetStoreDep, IngesterDep
from serving.schemas import (
    IngestPublic,
    IngestRefusedPublic,
    RowErrorPublic,
    TableChangePublic,
)
from serving.strict_json import parsed_body

router = APIRouter(prefix="/v1/data", tags=["data"])
_VALUE_CHARS = 80
_SHOWN_ERRORS = 200
_TABLE_NAMES = ", ".join(TABLES)
_RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    404: {"description": "No such table in the data contract."},
    415: {"description": "Send application/json, text/csv or a multipart upload (`file`)."},
    422: {"model": IngestRefusedPublic, "description": "Rows break the contract; none stored."},
}
WaitQuery = Annotated[
    bool,
    Query(description="Answer only once this worker's plans follow the new data (~1 s)."),
]


def _row_error(v: Violation) -> RowErrorPublic:
    value = v.value if v.value is None or len(v.value) <= _VALUE_CHARS else v.value[:_VALUE_CHARS]
    return RowErrorPublic(
        file=v.file, row=v.line, column=v.column, value=value, rule=v.rule, message=v.message
    )


def _bad_request(message: str) -> HTTPException:
    return HTTPException(status.HTTP_400_BAD_REQUEST, message)


def _records(value: Any, table: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise _bad_request(f"{table}: send a JSON array of objects, one per row")
    if not value:
        raise _bad_request(f"{table}: the batch has no rows")
    if len(value) > MAX_BATCH_ROWS:
        raise _bad_request(
            f"{table}: {len(value):,} rows; at most {MAX_BATCH_ROWS:,} per call "
            "(larger loads: `kompeten import`)"
        )
    return value


def _json(request: Request, body: bytes) -> Any:
    """The body as JSON: as `serving.strict_json.StrictJsonMiddleware` parsed it (it checks
    every JSON body and refuses NaN, Infinity and 1e999), else the parser's error as a 400."""
    parsed, value = parsed_body(request.scope)
    if parsed:
        return value
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _bad_request(f"the body is not valid JSON: {str(exc)[:120]}") from None


def _known(table: str) -> str:
    if table not in TABLES:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"no table {table[:40]!r}; tables: {_TABLE_NAMES}"
        )
    return table


async def _batches_of(request: Request, table: str | None) -> list[Batch]:
    """The request's rows as batches: a JSON array (or, without `table`, an object of
    arrays by table), a CSV body, or a CSV file uploaded as multipart field `file`."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "multipart/form-data" and table is not None:
        form = await request.form()
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise _bad_request("the multipart upload needs a file field named `file`")
        return [batch_from_csv(table, await upload.read(), upload.filename or None)]
    body = await request.body()
    if kind in ("text/csv", "application/csv") and table is not None:
        if not body.strip():
            raise _bad_request(f"{table}: the CSV body is empty")
        return [batch_from_csv(table, body)]
    if kind != "application/json":
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            "send application/json"
            + (", text/csv or a multipart upload (field `file`)" if table else ""),
        )
    value = _json(request, body)
    if table is not None:
        return [batch_from_records(table, _records(value, table))]
    if not isinstance(value, dict) or not value:
        raise _bad_request('send an object of tables, e.g. {"enrollments": [{...}]}')
    return [batch_from_records(_known(name), _records(rows, name)) for name, rows in value.items()]


async def _refresh(request: Request, wait: bool) -> str:
    """Recompute this worker's plans from the store (the current model, no retraining);
    rebuilds asked for meanwhile by other ingests are coalesced (`serving.data_refresh`)."""
    refresher: Refresher = request.app.state.refresher
    status_ = await refresher.request(wait)
    if status_ is None:
        return "scheduled"
    return {"loaded": "recomputed", "unchanged": "unchanged"}.get(status_, "failed")


async def _ingest(
    request: Request,
    table: str | None,
    store: DatasetStoreDep,
    key_id: str,
    wait: bool,
) -> IngestPublic | JSONResponse:
    batches = await _batches_of(request, table)
    source = ",".join(b.table for b in batches)
    result: IngestResult = await run_in_threadpool(
        store.ingest, batches, f"key:{key_id}", f"POST /v1/data {source}"
    )
    if not result.ok:
        errors = result.report.errors
        body = IngestRefusedPublic(
            detail=f"{len(errors)} error(s) in the batch; nothing was stored",
            error_count=len(errors),
            errors=[_row_error(v) for v in errors[:_SHOWN_ERRORS]],
        )
        return JSONResponse(body.model_dump(mode="json"), 422)
    plans = await _refresh(request, wait) if result.stored else "unchanged"
    return IngestPublic(
        revision=result.revision,
        stored=result.stored,
        tables={
            name: TableChangePublic(
                received=ch.received,
                inserted=ch.inserted,
                updated=ch.updated,
                unchanged=ch.unchanged,
            )
            for name, ch in result.changes.items()
        },
        employees_affected=len(result.nips),
        warnings=[_row_error(v) for v in result.report.warnings[:_SHOWN_ERRORS]],
        plans=plans,  # type: ignore[arg-type]
    )


@router.post(
    "/{table}",
    response_model=IngestPublic,
    responses=_RESPONSES,
    summary="Send rows of one table (JSON array, CSV body or CSV upload)",
)
async def ingest_table(
    request: Request,
    table: Annotated[str, Path(description=f"A table of the data contract: {_TABLE_NAMES}.")],
    store: DatasetStoreDep,
    key: IngesterDep,
    wait: WaitQuery = False,
) -> IngestPublic | JSONResponse:
    """Rows in the data contract's columns. Upserted by the table's natural key: a retried
    batch stores nothing twice, a changed row (an enrollment now `completed`) is updated."""
    return await _ingest(request, _known(table), store, key.key_id, wait)


@router.post(
    "",
    response_model=IngestPublic,
    responses=_RESPONSES,
    summary="Send rows of several tables at once (a new CPNS with her first enrollment)",
)
async def ingest_tables(
    request: Request,
    store: DatasetStoreDep,
    key: IngesterDep,
    wait: WaitQuery = False,
) -> IngestPublic | JSONResponse:
    """An object of JSON arrays by table name, checked and stored together."""
    return await _ingest(request, None, store, key.key_id, wait)
