"""Everything the unit pages show about a unit and its sub-units, assembled in one pass.

Blocking (database, maybe planning): route handlers call it from FastAPI's threadpool.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session

import serving.pages.needs_analysis as na
from features import columns as c
from serving.pages.directory import Directory
from serving.pages.talent_box import BOX, KINERJA, POTENSI, BoxCuts, talent_boxes
from serving.services.plans import EffectivePlan, effective_plan, fetch_reviews


@dataclass(frozen=True)
class GapItem:
    competency_id: str
    name: str
    current: float | None
    required: int
    gap: float


@dataclass(frozen=True)
class MemberRow:
    """One employee in the unit overview."""

    nip: str
    name: str
    unit_id: str
    unit_name: str
    position: str
    gaps: tuple[GapItem, ...]
    max_gap: float
    n_gaps: int
    jp_year: float
    behind: bool
    planned_jp: int
    risk: float | None
    risk_high: bool
    status: str
    box: int | None
    kinerja: float | None
    potensi: float | None
    #: The plan now differs from the one its latest review was made on.
    data_changed: bool = False


@dataclass(frozen=True)
class UnitView:
    unit_id: str
    unit_name: str
    members: tuple[str, ...]
    plans: Mapping[str, EffectivePlan]
    boxes: pd.DataFrame
    rows: tuple[MemberRow, ...]
    min_jp: int
    risk_threshold: float

    def competency_rows(self, state: Any) -> pd.DataFrame:
        comp = state.view.competency
        return comp.loc[comp[c.NIP].isin(self.members)]


def _number(value: Any) -> float | None:
    if value is None or value is pd.NA:
        return None
    number = float(value)
    return None if math.isnan(number) else number


def member_rows(
    state: Any,
    members: tuple[str, ...],
    plans: Mapping[str, EffectivePlan],
    boxes: pd.DataFrame,
    directory: Directory,
    min_jp: int,
    risk_threshold: float,
) -> tuple[MemberRow, ...]:
    by_nip = boxes.set_index(c.NIP)
    rows = []
    for nip in members:
        effective = plans[nip]
        gaps = tuple(
            GapItem(
                str(g[c.COMPETENCY_ID]),
                directory.competency(str(g[c.COMPETENCY_ID])),
                _number(g.get("current_level")),
                int(g[c.REQUIRED_LEVEL]),
                float(g["gap"]),
            )
            for g in effective.plan.get("gaps") or ()
        )
        jp = float(directory.jp_year.get(nip, 0.0))
        risk = _number(effective.plan.get("participation_risk"))
        unit = state.unit_of.get(nip, "")
        box = by_nip[BOX].get(nip) if nip in by_nip.index else None
        rows.append(
            MemberRow(
                nip=nip,
                name=directory.name(nip),
                unit_id=unit,
                unit_name=state.unit_names.get(unit, unit),
                position=directory.positions.get(nip, ""),
                gaps=gaps,
                max_gap=max((g.gap for g in gaps), default=0.0),
                n_gaps=len(gaps),
                jp_year=jp,
                behind=jp < min_jp,
                planned_jp=effective.total_jp,
                risk=risk,
                risk_high=risk is not None and risk >= risk_threshold,
                status=effective.status,
                data_changed=bool(effective.data_changed_since_review),
                box=None if box is None or box is pd.NA else int(box),
                kinerja=_number(by_nip[KINERJA].get(nip)) if nip in by_nip.index else None,
                potensi=_number(by_nip[POTENSI].get(nip)) if nip in by_nip.index else None,
            )
        )
    return tuple(rows)


def load_unit_view(
    state: Any,
    directory: Directory,
    session: Session,
    unit_id: str,
    cuts: BoxCuts,
    min_jp: int,
) -> UnitView:
    """Plans (with the managers' changes), statuses, 9-box and rows of a unit's employees."""
    members = tuple(state.unit_members(unit_id))
    reviews = fetch_reviews(session, members)
    plans = {
        nip: effective_plan(state, nip, reviews.get(nip, []), directory.course) for nip in members
    }
    view = state.view
    employees = view.employees.loc[view.employees[c.NIP].isin(members)]
    competency = view.competency.loc[view.competency[c.NIP].isin(members)]
    boxes = talent_boxes(employees, competency, cuts)
    threshold = float(getattr(state.planner, "risk_threshold", 0.5))
    rows = member_rows(state, members, plans, boxes, directory, min_jp, threshold)
    return UnitView(
        unit_id=unit_id,
        unit_name=state.unit_names.get(unit_id, unit_id),
        members=members,
        plans=plans,
        boxes=boxes,
        rows=rows,
        min_jp=min_jp,
        risk_threshold=threshold,
    )


@dataclass(frozen=True)
class NeedsTables:
    competencies: pd.DataFrame
    courses: pd.DataFrame
    modules: pd.DataFrame


def needs_tables(unit: UnitView, state: Any, directory: Directory) -> NeedsTables:
    """The training-needs analysis of the unit, with names joined for people to read."""
    competency = unit.competency_rows(state)
    needs = na.competency_needs(competency)
    needs.insert(1, c.NAME, [directory.competency(k) for k in needs[c.COMPETENCY_ID]])
    reach = na.course_reach({nip: p.steps for nip, p in unit.plans.items()})
    modes = directory.courses[c.MODE].astype(str).to_dict()
    reach.insert(3, c.MODE, [modes.get(k, "") for k in reach[c.COURSE_ID]])
    bands = na.active_course_bands(directory.courses, directory.course_competencies)
    modules = na.modules_to_commission(na.uncovered_gaps(competency, bands))
    modules.insert(1, c.NAME, [directory.competency(k) for k in modules[c.COMPETENCY_ID]])
    return NeedsTables(needs, reach, modules)


def approved_rows(unit: UnitView, directory: Directory, offset: Any) -> pd.DataFrame:
    """One row per course of every approved plan of the unit: what the training unit books."""
    records = []
    for row in unit.rows:
        effective = unit.plans[row.nip]
        if effective.status != "approved":
            continue
        decided = effective.decided_at
        approved_on = (decided + offset).strftime("%Y-%m-%d %H:%M") if decided else ""
        for step in effective.steps:
            info = directory.course(str(step[c.COURSE_ID])) or {}
            records.append(
                {
                    c.NIP: row.nip,
                    "employee_name": row.name,
                    c.UNIT_ID: row.unit_id,
                    "unit_name": row.unit_name,
                    "position": row.position,
                    "order": int(step["order"]),
                    c.COURSE_ID: str(step[c.COURSE_ID]),
                    c.TITLE: str(step.get("title") or info.get(c.TITLE, "")),
                    c.HOURS_JP: int(step[c.HOURS_JP]),
                    c.MODE: str(info.get(c.MODE, "")),
                    c.PROVIDER: str(info.get(c.PROVIDER, "")),
                    "added_by_manager": bool(step.get("added_by_manager", False)),
                    "plan_total_jp": effective.total_jp,
                    "approved_at": approved_on,
                    "model_version": effective.reviews[-1].model_version or "",
                }
            )
    columns = [
        c.NIP, "employee_name", c.UNIT_ID, "unit_name", "position", "order", c.COURSE_ID, c.TITLE,
        c.HOURS_JP, c.MODE, c.PROVIDER, "added_by_manager", "plan_total_jp", "approved_at",
        "model_version",
    ]  # fmt: skip
    return pd.DataFrame(records, columns=columns)
