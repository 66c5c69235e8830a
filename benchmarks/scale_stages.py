"""The stages the scale benchmark times, each run inside its own child process.

Every `stage_<name>(work, n, courses, seed)` builds what it needs under `work` (shared between
the stages of one size, so later stages reuse the demo data and the trained model) and returns
its own numbers; `benchmarks.bench_scale` runs them, repeats them and measures memory.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

STAGES = (
    "demo_data",
    "validation",
    "features",
    "training",
    "fit_vs_baselines",
    "planning",
    "spark_planning",
    "partition_scaling",
)
#: Sizes of one planning group for `partition_scaling` (a big dinas plans as one group).
GROUP_SIZES = (1_000, 4_000, 16_000)


def _paths(work: Path) -> dict[str, Path]:
    return {
        "data": work / "data",
        "truth": work / "data-truth",
        "home": work / "home",
        "plans": work / "plans.jsonl",
        "spark_plans": work / "plans-spark.jsonl",
    }


def _settings(work: Path) -> Any:
    from features.settings import Settings

    home = _paths(work)["home"]
    by_alias: dict[str, Any] = {"MLFLOW_TRACKING_URI": f"sqlite:///{home / 'mlflow.db'}"}
    settings = Settings(home=home, **by_alias)
    settings.ensure_home()
    return settings


def stage_demo_data(work: Path, n: int, courses: int, seed: int) -> dict[str, Any]:
    from demo_data import write_demo

    start = time.perf_counter()
    summary = write_demo(_paths(work)["data"], n_employees=n, seed=seed, n_courses=courses)
    return {
        "seconds": time.perf_counter() - start,
        "parts": {"generate": summary["generate_seconds"], "write": summary["write_seconds"]},
        "rows": summary["rows"],
    }


def stage_validation(work: Path, n: int, courses: int, seed: int) -> dict[str, Any]:
    from features.io import read_tables
    from features.validation import validate_tables

    start = time.perf_counter()
    read = read_tables(_paths(work)["data"])
    t_read = time.perf_counter() - start
    report = validate_tables(read.tables, read.sources, read.violations)
    total = time.perf_counter() - start
    if not report.ok:
        raise RuntimeError(f"demo data failed validation: {len(report.errors)} errors")
    return {"seconds": total, "parts": {"read": t_read, "checks": total - t_read}}


def stage_features(work: Path, n: int, courses: int, seed: int) -> dict[str, Any]:
    from features.as_of import latest_date
    from features.build import build_features
    from features.io import load_dataset

    tables = load_dataset(_paths(work)["data"])
    as_of = latest_date(tables)
    start = time.perf_counter()
    fs = build_features(tables, as_of)
    built = time.perf_counter() - start
    _ = fs.matrices
    total = time.perf_counter() - start
    return {"seconds": total, "parts": {**fs.timings, "matrices": total - built}}


def stage_training(work: Path, n: int, courses: int, seed: int) -> dict[str, Any]:
    from training_pipeline.run_config import TrainConfig
    from training_pipeline.train import run_training

    paths = _paths(work)
    config = TrainConfig(
        data_dir=paths["data"],
        truth_dir=paths["truth"] if paths["truth"].is_dir() else None,
        register=True,
        ablations=False,
        seed=seed,
    )
    start = time.perf_counter()
    result = run_training(config, _settings(work))
    total = time.perf_counter() - start
    parts = {k: v for k, v in result.timings.items() if k != "total"}
    parts["mlflow_and_register"] = total - sum(parts.values())
    return {
        "seconds": total,
        "parts": parts,
        "version": result.version,
        "promoted": result.promoted,
        "holdout_ndcg_at_10": result.metrics.get("holdout_ndcg_at_10"),
    }


def stage_fit_vs_baselines(work: Path, n: int, courses: int, seed: int) -> dict[str, Any]:
    """Our recommender's fit next to the baselines' fits on the same tables, same process."""
    from features.as_of import latest_date
    from features.build import build_features
    from features.io import load_dataset
    from model.baselines import ALSRecommender, PopularityRecommender
    from model.recommender import TrainingPathRecommender
    from training_pipeline.time_split import HORIZON_DAYS, earliest_date, snapshot_dates

    tables = load_dataset(_paths(work)["data"])
    as_of = latest_date(tables)
    dates = snapshot_dates(earliest_date(tables), as_of)
    fs = build_features(tables, as_of)
    parts: dict[str, float] = {}
    start = time.perf_counter()
    rec = TrainingPathRecommender(random_state=seed).fit(
        tables, dates, horizon_days=HORIZON_DAYS, course_features=fs
    )
    parts["recommender_fit"] = time.perf_counter() - start
    t0 = time.perf_counter()
    try:
        ALSRecommender(random_state=seed).fit(tables, as_of)
        parts["als_fit"] = time.perf_counter() - t0
    except ImportError:
        parts["als_fit"] = math.nan
    t0 = time.perf_counter()
    PopularityRecommender().fit(tables, as_of)
    parts["popularity_fit"] = time.perf_counter() - t0
    return {
        "seconds": parts["recommender_fit"],
        "parts": parts,
        "recommender_fit_stages": getattr(rec, "fit_timings_", {}),
        "snapshots": len(dates),
        "recommender_over_als": parts["recommender_fit"] / parts["als_fit"]
        if parts["als_fit"] > 0
        else math.nan,
    }


def stage_planning(work: Path, n: int, courses: int, seed: int) -> dict[str, Any]:
    """`kompeten plan` (pandas engine); per-partition throughput from its progress calls."""
    from training_pipeline.batch_plan import run_plan

    marks: list[tuple[str, float, float]] = []

    def _mark(step: str, fraction: float) -> None:
        marks.append((step, fraction, time.perf_counter()))

    start = time.perf_counter()
    summary = run_plan(_paths(work)["data"], _paths(work)["plans"], _settings(work), progress=_mark)
    total = time.perf_counter() - start
    planned = [(f, t) for step, f, t in marks if step.startswith("planned ")]
    t_features = next(t for step, _, t in marks if step == "building features")
    t_model = next(t for step, _, t in marks if step == "loading model")
    n_plans = int(summary["plans"])
    before = [(0.0, t_features), *planned[:-1]]
    sizes = [round((f1 - f0) * n_plans) for (f0, _), (f1, _) in zip(before, planned, strict=True)]
    seconds = [t1 - t0 for (_, t0), (_, t1) in zip(before, planned, strict=True)]
    # The first partition's interval also holds feature building: leave it out of the rate.
    rest_n, rest_s = sum(sizes[1:]), sum(seconds[1:])
    return {
        "seconds": total,
        "parts": {
            "load_data": t_model - start,
            "load_model": t_features - t_model,
            "features_and_first_partition": seconds[0] if seconds else math.nan,
            "other_partitions": rest_s,
            "write_tail": total - (planned[-1][1] - start) if planned else math.nan,
        },
        "plans": n_plans,
        "partitions": len(planned),
        "largest_partition": max(sizes) if sizes else 0,
        "jobs": int(summary.get("jobs", 1)),
        "employees_per_second": rest_n / rest_s if rest_s > 0 else math.nan,
        "slowest_partition": _slowest(sizes, seconds),
    }


def _slowest(sizes: list[int], seconds: list[float]) -> dict[str, float]:
    if len(sizes) < 2:
        return {}
    i = max(range(1, len(sizes)), key=lambda k: seconds[k])
    return {"employees": sizes[i], "seconds": seconds[i]}


def stage_spark_planning(work: Path, n: int, courses: int, seed: int) -> dict[str, Any]:
    from training_pipeline.spark_plan import run_plan_spark

    paths = _paths(work)
    start = time.perf_counter()
    summary = run_plan_spark(paths["data"], paths["spark_plans"], _settings(work))
    total = time.perf_counter() - start
    same = paths["plans"].is_file() and _same_lines(paths["plans"], paths["spark_plans"])
    return {
        "seconds": total,
        "parts": summary["seconds_by_stage"],
        "engine": summary["engine"],
        "equal_to_pandas_engine": same,
    }


def stage_partition_scaling(work: Path, n: int, courses: int, seed: int) -> dict[str, Any]:
    """Plan ONE group of growing size (neighbouring partitions merged): the cost of a big dinas.

    Mentor assignment is exact within a group, so its cost grows faster than the group; this
    measures time and peak traced memory (tracemalloc, a second pass) per group size.
    """
    import tracemalloc

    from features import columns as c
    from features.as_of import latest_date
    from features.build import build_features
    from features.io import load_dataset
    from features.plan_input import employee_view
    from training_pipeline import tracking
    from training_pipeline.batch_plan import load_champion, partitions

    settings = _settings(work)
    tracking.configure(settings)
    planner, version, _ = load_champion(settings, None)
    tables = load_dataset(_paths(work)["data"])
    view = employee_view(tables, build_features(tables, latest_date(tables)))
    ordered = [nip for nips in partitions(view, tables[c.UNITS]).values() for nip in nips]
    rows: dict[str, dict[str, float]] = {}
    for size in (s for s in GROUP_SIZES if s <= len(ordered)):
        group = view.subset(ordered[:size])
        start = time.perf_counter()
        planner.plan(group, model_version=version)
        seconds = time.perf_counter() - start
        tracemalloc.start()
        planner.plan(group, model_version=version)
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        rows[str(size)] = {"seconds": seconds, "peak_traced_mib": peak}
    largest = max(rows, key=int)
    return {
        "seconds": rows[largest]["seconds"],
        "parts": {f"group_{k}": v["seconds"] for k, v in rows.items()},
        "groups": rows,
    }


def _same_lines(a: Path, b: Path) -> bool:
    from itertools import zip_longest

    with a.open(encoding="utf-8") as fa, b.open(encoding="utf-8") as fb:
        return all(x == y for x, y in zip_longest(fa, fb))


STAGE_FUNCTIONS: dict[str, Callable[[Path, int, int, int], dict[str, Any]]] = {
    name: globals()[f"stage_{name}"] for name in STAGES
}
