"""`kompeten plan` and `kompeten pair`: batch jobs over a dataset with a registered model.

Work is split by planning partition (the kecamatan or dinas a unit belongs to, see
`features.units.partition_of_units`): mentor assignment is exact within a partition, and the
Spark engine splits along the same line, so both engines produce the same plans.
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from features import columns as c
from features.build import build_features
from features.io import load_dataset
from features.plan_input import EmployeeView, employee_view, split_view
from features.settings import Settings
from features.units import partition_of_units, subunits
from training_pipeline.train import latest_date

Progress = Callable[[str, float], None]
PAIR_COLUMNS = (c.MENTEE_NIP, c.MENTOR_NIP, c.COMPETENCY_ID, "score", "reason_id", "reason_en")


class UnknownUnitError(ValueError):
    """The unit asked for is not in the dataset's units table."""


def load_champion(settings: Settings, model_uri: str | None) -> tuple[Any, str | None, str]:
    """Planner, its version and the URI used (champion by default)."""
    from model.pyfunc_model import load_planner
    from training_pipeline import tracking

    tracking.configure(settings)
    uri = model_uri or f"models:/{settings.model_name}@{tracking.CHAMPION}"
    try:
        planner, version = load_planner(uri)
    except Exception as exc:  # noqa: BLE001 - MLflow raises many kinds; the message matters
        raise RuntimeError(
            f"cannot load model {uri}: {exc}. Train one first with `kompeten train`."
        ) from exc
    return planner, version, uri


def partitions(view: EmployeeView, units: pd.DataFrame) -> dict[str, list[str]]:
    """NIPs per planning partition, partitions in sorted order."""
    part = partition_of_units(units)
    keys = view.employees[c.UNIT_ID].astype(str).map(part).fillna("?")
    groups: dict[str, list[str]] = {}
    for nip, key in zip(view.employees[c.NIP].astype(str), keys, strict=True):
        groups.setdefault(key, []).append(nip)
    return dict(sorted(groups.items()))


def plan_partitions(
    planner: Any,
    view: EmployeeView,
    units: pd.DataFrame,
    *,
    jp_budget: int,
    mentor_capacity: int,
    model_version: str | None,
    progress: Progress | None = None,
):
    """Yield plans partition by partition (mentors assigned within each partition)."""
    groups = partitions(view, units)
    views = split_view(view, groups)
    done = 0
    total = sum(len(v) for v in groups.values())
    for key, nips in groups.items():
        sub = views[key]
        yield from planner.plan(
            sub,
            jp_budget=jp_budget,
            mentor_capacity=mentor_capacity,
            model_version=model_version,
        )
        done += len(nips)
        if progress is not None:
            progress(f"planned {key}", done / max(1, total))


def run_plan(
    data: Path,
    out_file: Path,
    settings: Settings,
    *,
    as_of: date | None = None,
    jp_budget: int = 40,
    mentor_capacity: int = 3,
    model_uri: str | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Plans for every active employee to JSON Lines; returns a short summary."""
    started = time.perf_counter()
    if progress:
        progress("loading data", 0.0)
    tables = load_dataset(data)
    when = pd.Timestamp(as_of) if as_of is not None else latest_date(tables)
    if progress:
        progress("loading model", 0.02)
    planner, version, uri = load_champion(settings, model_uri)
    if progress:
        progress("building features", 0.05)
    view = employee_view(tables, build_features(tables, when))
    out_file.parent.mkdir(parents=True, exist_ok=True)
    n = n_mentor = n_min = 0
    total_jp = 0
    tmp = out_file.with_suffix(out_file.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for plan in plan_partitions(
            planner,
            view,
            tables[c.UNITS],
            jp_budget=jp_budget,
            mentor_capacity=mentor_capacity,
            model_version=version,
            progress=progress,
        ):
            fh.write(json.dumps(plan, ensure_ascii=False) + "\n")
            n += 1
            n_mentor += plan["mentor"] is not None
            total_jp += plan["total_jp"]
            n_min += plan["total_jp"] >= min(settings.min_jp_per_year, jp_budget)
    tmp.replace(out_file)  # a crash never leaves a half-written plan file behind
    return {
        "plans": n,
        "with_mentor": n_mentor,
        "mean_jp": round(total_jp / max(1, n), 1),
        "reaching_min_jp": f"{n_min}/{n}",
        "as_of": when.date().isoformat(),
        "model": f"{uri} (version {version})",
        "out": str(out_file),
        "seconds": round(time.perf_counter() - started, 1),
    }


def run_pair(
    data: Path,
    out_file: Path,
    settings: Settings,
    *,
    unit: str | None = None,
    capacity: int = 3,
    same_unit: bool = False,
    exclude_supervisor: bool = True,
    as_of: date | None = None,
    model_uri: str | None = None,
) -> dict[str, Any]:
    """Optimal mentor pairs for the organisation (per partition) or one unit's subtree."""
    started = time.perf_counter()
    tables = load_dataset(data)
    units = tables[c.UNITS]
    if unit is not None and unit not in set(units[c.UNIT_ID].astype(str)):
        raise UnknownUnitError(f"unknown unit {unit!r}")
    when = pd.Timestamp(as_of) if as_of is not None else latest_date(tables)
    planner, version, uri = load_champion(settings, model_uri)
    view = employee_view(tables, build_features(tables, when))
    if unit is not None:
        scope = subunits(units, unit)
        nips = view.employees.loc[view.employees[c.UNIT_ID].isin(scope), c.NIP].tolist()
        groups = {unit: nips}
    else:
        groups = partitions(view, units)
    frames = []
    for nips in groups.values():
        pairs = planner.mentors(
            view.subset(nips),
            capacity=capacity,
            same_unit=same_unit,
            exclude_supervisor=exclude_supervisor,
        )
        frames.append(pairs)
    result = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    out_file.parent.mkdir(parents=True, exist_ok=True)
    cols = [col for col in PAIR_COLUMNS if col in result.columns]
    result = result.assign(score=result["score"].round(4)) if len(result) else result
    result[cols].to_csv(out_file, index=False, quoting=csv.QUOTE_MINIMAL)
    return {
        "pairs": len(result),
        "mentors": int(result[c.MENTOR_NIP].nunique()) if len(result) else 0,
        "total_score": round(float(result["score"].sum()), 3) if len(result) else 0.0,
        "scope": unit or "whole organisation (per kecamatan/dinas)",
        "model": f"{uri} (version {version})",
        "out": str(out_file),
        "seconds": round(time.perf_counter() - started, 1),
    }
