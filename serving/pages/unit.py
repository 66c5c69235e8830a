"""Unit pages: the overview with the 9-box, the training-needs analysis, and the downloads.

Plain `def` handlers: they read the review database and may plan, so FastAPI runs them in
its threadpool.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response

from serving.deps import app_settings, pages_settings
from serving.pages.context import (
    check_unit,
    common,
    database,
    directory_of,
    page_state,
    root_units,
    visible_subunits,
)
from serving.pages.errors import PageError
from serving.pages.exports import (
    CSV_MEDIA_TYPE,
    XLSX_MEDIA_TYPE,
    csv_bytes,
    download_headers,
    xlsx_bytes,
)
from serving.pages.i18n import Translator
from serving.pages.overview import OverviewQuery, filter_rows, paginate, sort_rows
from serving.pages.rendering import redirect, render, translator
from serving.pages.session import PREFIX, ViewerDep
from serving.pages.talent_box import ADVICE, BOX_GRID, BOXES, box_counts, box_cuts
from serving.pages.unit_view import UnitView, approved_rows, load_unit_view, needs_tables
from serving.services.plans import STATUSES

router = APIRouter(prefix=PREFIX, include_in_schema=False)

UnitId = Annotated[str, Path(min_length=1, max_length=64)]
#: Names listed in a 9-box cell before "and N more" (the filter link shows them all).
BOX_NAMES_SHOWN = 8
NEEDS_TABLES = ("kompetensi", "pelatihan", "modul")


def _unit_view(request: Request, viewer: Any, unit_id: str) -> tuple[Any, Any, UnitView]:
    state = page_state(request)
    check_unit(state, viewer, unit_id)
    directory = directory_of(request, state)
    pages = pages_settings(request)
    with database(request) as session:
        unit = load_unit_view(
            state,
            directory,
            session,
            unit_id,
            box_cuts(pages),
            app_settings(request).min_jp_per_year,
        )
    return state, directory, unit


@router.get("/unit", response_class=HTMLResponse)
def unit_list(request: Request, viewer: ViewerDep) -> Response:
    """Where a manager lands: straight to the unit when there is one."""
    state = page_state(request)
    roots = root_units(state, viewer)
    if len(roots) == 1:
        return redirect(f"{PREFIX}/unit/{roots[0]}")
    units = [(u, state.unit_names.get(u, u), len(state.unit_members(u))) for u in roots]
    return render(request, "units.html", {**common(viewer, state), "units": units})


def _nine_box(unit: UnitView) -> dict[str, Any]:
    counts = box_counts(unit.boxes)
    names: dict[int, list[tuple[str, str]]] = {b: [] for b in BOXES}
    for row in sorted(unit.rows, key=lambda r: r.name.casefold()):
        if row.box is not None:
            names[row.box].append((row.nip, row.name))
    return {
        "grid": [list(r) for r in reversed(BOX_GRID)],  # potensi tinggi on top
        "counts": counts,
        "names": names,
        "advice": ADVICE,
        "unplaced": sum(1 for r in unit.rows if r.box is None),
        "shown": BOX_NAMES_SHOWN,
    }


@router.get("/unit/{unit_id}", response_class=HTMLResponse)
def unit_overview(request: Request, unit_id: UnitId, viewer: ViewerDep) -> Response:
    state, _, unit = _unit_view(request, viewer, unit_id)
    query = OverviewQuery.from_params(request.query_params)
    rows = sort_rows(filter_rows(unit.rows, query), query)
    page = paginate(rows, query.page, pages_settings(request).page_size)
    statuses = Counter(r.status for r in unit.rows)
    summary = {
        "n": len(unit.rows),
        "behind": sum(r.behind for r in unit.rows),
        "risk_high": sum(r.risk_high for r in unit.rows),
        "statuses": {s: statuses.get(s, 0) for s in STATUSES},
    }
    cuts = box_cuts(pages_settings(request))
    return render(
        request,
        "unit.html",
        {
            **common(viewer, state),
            "unit": unit,
            "subunits": visible_subunits(state, unit_id),
            "query": query,
            "params": query.params(),
            "page": page,
            "summary": summary,
            "statuses": STATUSES,
            "box": _nine_box(unit),
            "cuts": cuts,
        },
    )


# --- training-needs analysis ------------------------------------------------------------------


def _labelled(frame: pd.DataFrame, t: Translator) -> pd.DataFrame:
    """Column headers in the viewer's language (the codes stay in the data cells)."""
    return frame.rename(columns={col: t(f"col_{col}") for col in frame.columns})


def _needs_frames(unit: UnitView, state: Any, directory: Any) -> dict[str, pd.DataFrame]:
    tables = needs_tables(unit, state, directory)
    return {"kompetensi": tables.competencies, "pelatihan": tables.courses, "modul": tables.modules}


@router.get("/unit/{unit_id}/kebutuhan", response_class=HTMLResponse)
def needs_page(request: Request, unit_id: UnitId, viewer: ViewerDep) -> Response:
    state, directory, unit = _unit_view(request, viewer, unit_id)
    frames = _needs_frames(unit, state, directory)
    return render(
        request,
        "needs.html",
        {
            **common(viewer, state),
            "unit": unit,
            "competencies": frames["kompetensi"].to_dict("records"),
            "courses": frames["pelatihan"].to_dict("records"),
            "modules": frames["modul"].to_dict("records"),
            "tables": NEEDS_TABLES,
        },
    )


def _filename(unit_id: str, what: str, as_of: Any, ext: str) -> str:
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in unit_id)
    return f"{what}-{safe}-{pd.Timestamp(as_of).date()}.{ext}"


@router.get("/unit/{unit_id}/kebutuhan/{table}.csv")
def needs_csv(request: Request, unit_id: UnitId, table: str, viewer: ViewerDep) -> Response:
    if table not in NEEDS_TABLES:
        raise PageError(404, "error_not_found")
    state, directory, unit = _unit_view(request, viewer, unit_id)
    frame = _labelled(_needs_frames(unit, state, directory)[table], translator(request))
    return Response(
        csv_bytes(frame),
        media_type=CSV_MEDIA_TYPE,
        headers=download_headers(_filename(unit_id, f"kebutuhan-{table}", state.as_of, "csv")),
    )


@router.get("/unit/{unit_id}/kebutuhan.xlsx")
def needs_xlsx(request: Request, unit_id: UnitId, viewer: ViewerDep) -> Response:
    state, directory, unit = _unit_view(request, viewer, unit_id)
    t = translator(request)
    sheets = {
        t(f"sheet_{name}"): _labelled(frame, t)
        for name, frame in _needs_frames(unit, state, directory).items()
    }
    return Response(
        xlsx_bytes(sheets),
        media_type=XLSX_MEDIA_TYPE,
        headers=download_headers(_filename(unit_id, "kebutuhan", state.as_of, "xlsx")),
    )


# --- approved plans for the training unit -------------------------------------------------------


def _approved(request: Request, viewer: Any, unit_id: str) -> tuple[Any, pd.DataFrame]:
    state, directory, unit = _unit_view(request, viewer, unit_id)
    offset = timedelta(hours=pages_settings(request).display_utc_offset_hours)
    frame = approved_rows(unit, directory, offset)
    return state, _labelled(frame, translator(request))


@router.get("/unit/{unit_id}/disetujui.csv")
def approved_csv(request: Request, unit_id: UnitId, viewer: ViewerDep) -> Response:
    state, frame = _approved(request, viewer, unit_id)
    return Response(
        csv_bytes(frame),
        media_type=CSV_MEDIA_TYPE,
        headers=download_headers(_filename(unit_id, "rencana-disetujui", state.as_of, "csv")),
    )


@router.get("/unit/{unit_id}/disetujui.xlsx")
def approved_xlsx(request: Request, unit_id: UnitId, viewer: ViewerDep) -> Response:
    state, frame = _approved(request, viewer, unit_id)
    t = translator(request)
    return Response(
        xlsx_bytes({t("sheet_approved"): frame}),
        media_type=XLSX_MEDIA_TYPE,
        headers=download_headers(_filename(unit_id, "rencana-disetujui", state.as_of, "xlsx")),
    )
