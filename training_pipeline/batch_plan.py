"""`kompeten plan` and `kompeten pair`: batch jobs over a dataset with a registered model.

Work is split by planning partition (the kecamatan or dinas a unit belongs to, see
`features.units.partition_of_units`): mentor assignment is exact within a partition, and the
Spark engine splits along the same line, so both engines produce the same plans.

Partitions are independent, so `kompeten plan` spreads them over worker processes (`jobs`,
forked: the planner and the employee view are inherited, not copied or pickled). Results are
taken back in partition order, so the file is byte-for-byte the one a single process writes.
"""

from __future__ import annotations

import csv
import json
import multiprocessing
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd

from features import columns as c
from features.as_of import latest_date
from features.build import build_features
from features.io import load_dataset
from features.plan_input import EmployeeView, employee_view, split_view
from features.settings import Settings
from features.units import partition_of_units, subunits

Progress = Callable[[str, float], None]
PAIR_COLUMNS = (c.MENTEE_NIP, c.MENTOR_NIP, c.COMPETENCY_ID, "score", "reason_id", "reason_en")


class UnknownUnitError(ValueError):
    """The unit asked for is not in the dataset's units table."""


def load_champion(settings: Settings, model_uri: str | None) -> tuple[Any, str | None, str]:
    """Planner, its version and the URI used (champion by default)."""
    from training_pipeline import tracking

    tracking.configure(settings)
    uri = model_uri or f"models:/{settings.model_name}@{tracking.CHAMPION}"
    try:
        planner, version = tracking.load_registered_planner(uri)
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


def default_jobs() -> int:
    """Worker processes by default: the CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


#: What forked workers plan with: set by the parent only while it forks them.
_WORK: dict[str, Any] = {}


class EncodedPartition(NamedTuple):
    """One partition's plans as JSON Lines, with the counts `write_plans` sums up."""

    text: str
    plans: int
    with_mentor: int
    total_jp: int
    reaching_min_jp: int


def _plan_one(work: dict[str, Any], key: str) -> list[dict[str, Any]]:
    return work["planner"].plan(work["views"][key], **work["params"])


def _plan_encoded(work: dict[str, Any], key: str) -> EncodedPartition:
    """Plan and encode in the worker, so the parent only writes text."""
    plans = _plan_one(work, key)
    min_jp = work["min_jp"]
    return EncodedPartition(
        "".join(json.dumps(plan, ensure_ascii=False) + "\n" for plan in plans),
        len(plans),
        sum(plan["mentor"] is not None for plan in plans),
        sum(int(plan["total_jp"]) for plan in plans),
        sum(plan["total_jp"] >= min_jp for plan in plans),
    )


def _in_worker(fn: Callable[[dict[str, Any], str], Any], key: str) -> Any:
    return fn(_WORK, key)


def _limit_threads() -> None:
    """One OpenMP/BLAS thread per worker: the workers are the parallelism."""
    from model.threads import limit_threads

    limit_threads(1)  # applies at once and stays: the worker process lives for the pool


def _map_partitions(
    fn: Callable[[dict[str, Any], str], Any], keys: list[str], work: dict[str, Any], jobs: int
) -> Iterator[Any]:
    """fn(work, key) for every partition, in the order of `keys`, in `jobs` forked processes.

    Forked workers inherit `work` (planner, views, params) instead of receiving it pickled.
    Without fork (not Linux), or with one job, it runs here.
    """
    if jobs <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        return (fn(work, key) for key in keys)
    return _map_forked(fn, keys, work, jobs)


def _map_forked(
    fn: Callable[[dict[str, Any], str], Any], keys: list[str], work: dict[str, Any], jobs: int
) -> Iterator[Any]:
    context = multiprocessing.get_context("fork")
    pool = ProcessPoolExecutor(jobs, mp_context=context, initializer=_limit_threads)
    try:
        # With fork, the pool starts all its workers at the first submit, inside `map`.
        _WORK.update(work)
        try:
            results = pool.map(partial(_in_worker, fn), keys)
        finally:
            _WORK.clear()
        yield from results
    finally:  # a reader that stops early does not wait for the rest to be planned
        pool.shutdown(wait=True, cancel_futures=True)


def _partition_views(
    view: EmployeeView, units: pd.DataFrame
) -> tuple[dict[str, list[str]], dict[str, EmployeeView]]:
    groups = partitions(view, units)
    return groups, split_view(view, groups)


def _effective_jobs(jobs: int | None, n_partitions: int) -> int:
    wanted = default_jobs() if jobs is None else int(jobs)
    if wanted < 1:
        raise ValueError("jobs must be at least 1")
    return max(1, min(wanted, n_partitions))


def plan_partitions(
    planner: Any,
    view: EmployeeView,
    units: pd.DataFrame,
    *,
    jp_budget: int,
    mentor_capacity: int,
    model_version: str | None,
    progress: Progress | None = None,
    jobs: int = 1,
) -> Iterator[dict[str, Any]]:
    """Yield plans partition by partition (mentors assigned within each partition).

    `jobs` > 1 plans partitions in that many forked processes; the plans and their order are
    the same.
    """
    groups, views = _partition_views(view, units)
    params = {
        "jp_budget": jp_budget,
        "mentor_capacity": mentor_capacity,
        "model_version": model_version,
    }
    done = 0
    total = sum(len(v) for v in groups.values())
    keys = list(groups)
    work = {"planner": planner, "views": views, "params": params}
    results = _map_partitions(_plan_one, keys, work, _effective_jobs(jobs, len(keys)))
    for key, plans in zip(keys, results, strict=True):
        yield from plans
        done += len(groups[key])
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
    jobs: int | None = None,
) -> dict[str, Any]:
    """Plans for every active employee to JSON Lines; returns a short summary.

    `jobs` worker processes plan the partitions (default: `default_jobs()`); the file does
    not depend on it.
    """
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
    counts = write_plans(
        planner,
        view,
        tables[c.UNITS],
        out_file,
        jp_budget=jp_budget,
        mentor_capacity=mentor_capacity,
        model_version=version,
        min_jp=min(settings.min_jp_per_year, jp_budget),
        jobs=jobs,
        progress=progress,
    )
    n = counts.plans
    return {
        "plans": n,
        "with_mentor": counts.with_mentor,
        "mean_jp": round(counts.total_jp / max(1, n), 1),
        "reaching_min_jp": f"{counts.reaching_min_jp}/{n}",
        "as_of": when.date().isoformat(),
        "model": f"{uri} (version {version})",
        "out": str(out_file),
        "jobs": counts.jobs,
        "seconds": round(time.perf_counter() - started, 1),
    }


class PlanCounts(NamedTuple):
    """What `write_plans` wrote: plans, how many have a mentor, JP, and the jobs used."""

    plans: int
    with_mentor: int
    total_jp: int
    reaching_min_jp: int
    jobs: int


def write_plans(
    planner: Any,
    view: EmployeeView,
    units: pd.DataFrame,
    out_file: Path,
    *,
    jp_budget: int,
    mentor_capacity: int,
    model_version: str | None,
    min_jp: int,
    jobs: int | None = None,
    progress: Progress | None = None,
) -> PlanCounts:
    """The plans of `plan_partitions` as JSON Lines in `out_file`, encoded in the workers.

    Written to a temporary file first and renamed: a crash never leaves half a plan file.
    """
    groups, views = _partition_views(view, units)
    keys = list(groups)
    n_jobs = _effective_jobs(jobs, len(keys))
    work = {
        "planner": planner,
        "views": views,
        "params": {
            "jp_budget": jp_budget,
            "mentor_capacity": mentor_capacity,
            "model_version": model_version,
        },
        "min_jp": min_jp,
    }
    n = n_mentor = n_min = total_jp = 0
    out_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_file.with_suffix(out_file.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        results = _map_partitions(_plan_encoded, keys, work, n_jobs)
        for key, part in zip(keys, results, strict=True):
            fh.write(part.text)
            n += part.plans
            n_mentor += part.with_mentor
            total_jp += part.total_jp
            n_min += part.reaching_min_jp
            if progress is not None:
                progress(f"planned {key}", n / max(1, len(view.employees)))
    tmp.replace(out_file)
    return PlanCounts(n, n_mentor, total_jp, n_min, n_jobs)


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
