"""`kompeten plan --engine spark`: the batch plan on Apache Spark, one group per planning partition.

The driver reads the dataset with the contract loader, builds the features and writes the
plan-input frame (`features.plan_input.to_plan_input`) as Parquet partitioned by planning
partition (the kecamatan/dinas of `features.units.partition_of_units`, exactly the split of the
pandas engine in `training_pipeline.batch_plan`). Spark then runs
`groupBy(partition).applyInPandas`: one group is one whole partition, so mentor assignment stays
exact within it, and each Python worker loads the SAME registered planner version once
(`tracking.load_registered_planner`) and calls `plan_frame`, as the pyfunc's `predict` does.
Results go to Parquet, then to JSON Lines in the pandas engine's shape and order.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features import columns as c
from features.plan_input import EmployeeView, to_plan_input

PARTITION = "planning_partition"
ORDER = "plan_order"
#: Columns of the pyfunc's output, then the two columns that place a row in the batch.
RESULT_SCHEMA = (
    f"{c.NIP} string, gaps string, training_path string, total_jp long, mentor string, "
    "participation_risk double, risk_note_id string, risk_note_en string, "
    f"model_version string, {PARTITION} string, {ORDER} long"
)
DEFAULT_MASTER = "local[*]"
Progress = Callable[[str, float], None]


@dataclass(frozen=True)
class WorkerConfig:
    """What a Spark Python worker needs to plan one group; pickled into every task."""

    model_uri: str
    tracking_uri: str | None
    params: dict[str, Any]
    #: dtypes of the plan-input frame on the driver: Arrow turns nullable ints into floats
    #: and `str` columns into object; the planner sees exactly what the pandas engine sees.
    dtypes: dict[str, str] = field(default_factory=dict)


# --- pure parts ----------------------------------------------------------------------------


def plan_input_by_partition(view: EmployeeView, units: pd.DataFrame) -> pd.DataFrame:
    """The pyfunc input for every employee, with its planning partition and output position.

    `ORDER` is the row's position in the pandas engine's output (partitions sorted, employees
    in view order within one), so sorting by it reproduces that file line for line.
    """
    from training_pipeline.batch_plan import partitions

    groups = partitions(view, units)
    keys = [key for key, nips in groups.items() for _ in nips]
    ordered = [nip for nips in groups.values() for nip in nips]
    frame = to_plan_input(view.subset(ordered))
    if frame[c.NIP].astype(str).tolist() != ordered:
        raise RuntimeError("plan input lost or reordered employees")
    frame[PARTITION] = pd.Series(keys, dtype=object)
    frame[ORDER] = np.arange(len(frame), dtype=np.int64)
    return frame


def plan_record(row: Mapping[str, Any]) -> dict[str, Any]:
    """One pyfunc output row back to the plan dict the pandas engine writes (same key order)."""
    risk = row["participation_risk"]
    return {
        c.NIP: str(row[c.NIP]),
        "gaps": json.loads(row["gaps"]),
        "training_path": json.loads(row["training_path"]),
        "total_jp": int(row["total_jp"]),
        "mentor": json.loads(row["mentor"]),
        "participation_risk": None if risk is None or pd.isna(risk) else float(risk),
        "risk_note_id": row["risk_note_id"] or "",
        "risk_note_en": row["risk_note_en"] or "",
        "model_version": row["model_version"] or None,
    }


def restore_dtypes(frame: pd.DataFrame, dtypes: Mapping[str, str]) -> pd.DataFrame:
    """Give the columns the driver's dtypes back (Arrow/Spark widen some on the way)."""
    out = frame.copy()
    for col, dtype in dtypes.items():
        if col in out.columns and str(out[col].dtype) != dtype:
            if dtype == "object":
                out[col] = out[col].astype(object).where(out[col].notna(), None)
            else:
                out[col] = out[col].astype(dtype)
    return out


# --- the Spark worker side ----------------------------------------------------------------------

_PLANNERS: dict[tuple[str, str | None], Any] = {}


def cached_planner(model_uri: str, tracking_uri: str | None) -> Any:
    """The registered planner, loaded once per Python worker process (Spark reuses workers)."""
    key = (model_uri, tracking_uri)
    if key not in _PLANNERS:
        from training_pipeline import tracking

        if tracking_uri:
            tracking.use_store(tracking_uri)
        _PLANNERS[key], _ = tracking.load_registered_planner(model_uri)
    return _PLANNERS[key]


def plan_group(group: pd.DataFrame, config: WorkerConfig) -> pd.DataFrame:
    """Plans for one planning partition (a pandas frame handed over by applyInPandas)."""
    group = group.sort_values(ORDER, kind="stable").reset_index(drop=True)
    inputs = restore_dtypes(group.drop(columns=[PARTITION, ORDER]), config.dtypes)
    # What the pyfunc's predict does (`training_pipeline.planner_model`), without MLflow's
    # schema enforcement per group: the inputs were built by `to_plan_input` on the driver.
    planner = cached_planner(config.model_uri, config.tracking_uri)
    out = planner.plan_frame(inputs, **config.params)
    position = dict(zip(group[c.NIP].astype(str), group[ORDER], strict=True))
    out = out.reset_index(drop=True)
    out[PARTITION] = group[PARTITION].iloc[0]
    out[ORDER] = out[c.NIP].astype(str).map(position).astype(np.int64)
    out["total_jp"] = out["total_jp"].astype(np.int64)
    out["participation_risk"] = out["participation_risk"].astype(np.float64)
    for col in ("gaps", "training_path", "mentor", "risk_note_id", "risk_note_en"):
        out[col] = out[col].astype(object)
    out["model_version"] = out["model_version"].astype(object)
    return out[[name.split(" ")[0] for name in RESULT_SCHEMA.split(", ")]]


def _group_planner(config: WorkerConfig) -> Callable[[pd.DataFrame], pd.DataFrame]:
    # A closure over a module-level function: cloudpickle ships `config` by value and
    # `plan_group` by reference, so the worker's `_PLANNERS` cache survives between tasks.
    def plan(group: pd.DataFrame) -> pd.DataFrame:
        return plan_group(group, config)

    return plan


# --- driver -------------------------------------------------------------------------------------


def spark_session(master: str = DEFAULT_MASTER, app_name: str = "kompeten-plan") -> Any:
    """A SparkSession whose Python workers use this interpreter (they need pandas, mlflow)."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise RuntimeError(
            "the spark engine needs pyspark and Java 17+: pip install 'kompeten[spark]'"
        ) from exc

    builder = (
        SparkSession.builder.master(master)
        .appName(app_name)
        # Partition values are unit ids: never let Spark read "3201" back as an integer.
        .config("spark.sql.sources.partitionColumnTypeInference.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.python.worker.reuse", "true")
    )
    # One Python worker per task slot already fills the cores: OpenMP/BLAS threads inside each
    # (scikit-learn's HistGradientBoosting predict) oversubscribe them; measured 2x slower.
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        builder = builder.config(f"spark.executorEnv.{var}", "1")
    if master.startswith("local"):
        builder = builder.config("spark.ui.enabled", "false")
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("WARN")
    return session


def write_plan_input(frame: pd.DataFrame, folder: Path) -> None:
    """Parquet dataset, one hive folder per planning partition (`planning_partition=...`)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if folder.exists():
        shutil.rmtree(folder)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    pq.write_to_dataset(table, str(folder), partition_cols=[PARTITION])


def run_spark_plans(
    spark: Any,
    input_dir: Path,
    results_dir: Path,
    config: WorkerConfig,
    n_groups: int,
) -> None:
    """Plan every group on Spark; results as Parquet, one hive folder per planning partition.

    No global sort: its range sampling would run the planning twice. Each group's rows carry
    `ORDER`, and `iter_result_rows` restores the pandas engine's order partition by partition.
    """
    spark.conf.set("spark.sql.shuffle.partitions", str(max(1, min(n_groups, 2000))))
    frame = spark.read.parquet(str(input_dir))
    plans = frame.groupBy(PARTITION).applyInPandas(_group_planner(config), schema=RESULT_SCHEMA)
    plans.write.mode("overwrite").partitionBy(PARTITION).parquet(str(results_dir))


def iter_result_rows(results_dir: Path) -> Iterator[dict[str, Any]]:
    """Result rows in `ORDER`, one planning partition in memory at a time."""
    import pyarrow.dataset as ds

    dataset = ds.dataset(str(results_dir), format="parquet", partitioning="hive")
    by_group: dict[str, list[Any]] = {}
    for fragment in dataset.get_fragments():
        key = ds.get_partition_keys(fragment.partition_expression)[PARTITION]
        by_group.setdefault(str(key), []).append(fragment)
    starts = []
    for key, fragments in by_group.items():
        first = min(
            min(f.to_table(columns=[ORDER]).column(0).to_pylist(), default=2**62) for f in fragments
        )
        starts.append((first, key))
    expected = 0
    for _, key in sorted(starts):
        tables = [f.to_table() for f in by_group[key]]
        rows = sorted((row for t in tables for row in t.to_pylist()), key=lambda r: r[ORDER])
        for row in rows:
            if row[ORDER] != expected:
                raise RuntimeError(f"Spark results lost or repeated a row at position {expected}")
            expected += 1
            yield {**row, PARTITION: key}


def run_plan_spark(
    data: Path,
    out_file: Path,
    settings: Any,
    *,
    as_of: date | None = None,
    jp_budget: int = 40,
    mentor_capacity: int = 3,
    model_uri: str | None = None,
    master: str = DEFAULT_MASTER,
    work_dir: Path | None = None,
    spark: Any | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """`kompeten plan --engine spark`: same output file as `batch_plan.run_plan`, via Spark.

    `work_dir` (default `<out>.spark/` next to the output) receives `plan_input/` and
    `plans/` (Parquet); on a cluster it must be a path every executor can read and write.
    A session passed in `spark` is used and left running; otherwise one is started for
    `master` and stopped at the end.
    """
    from features.as_of import latest_date
    from features.build import build_features
    from features.io import load_dataset
    from training_pipeline import tracking

    def _report(step: str, fraction: float) -> None:
        if progress is not None:
            progress(step, fraction)

    started = time.perf_counter()
    timings: dict[str, float] = {}
    _report("loading data", 0.0)
    tables = load_dataset(data)
    when = pd.Timestamp(as_of) if as_of is not None else latest_date(tables)
    _report("resolving model", 0.05)
    tracking_uri = tracking.configure(settings)
    uri = model_uri or f"models:/{settings.model_name}@{tracking.CHAMPION}"
    try:
        version = tracking.resolve_version(uri)
    except Exception as exc:  # noqa: BLE001 - MLflow raises many kinds; the message matters
        raise RuntimeError(
            f"cannot load model {uri}: {exc}. Train one first with `kompeten train`."
        ) from exc
    # Pin the version: a champion promoted mid-run must not mix two models in one batch.
    pinned = tracking.pinned_uri(uri, version)
    timings["load"] = time.perf_counter() - started

    t0 = time.perf_counter()
    _report("building features", 0.1)
    from features.plan_input import employee_view

    view = employee_view(tables, build_features(tables, when))
    frame = plan_input_by_partition(view, tables[c.UNITS])
    n_groups = int(frame[PARTITION].nunique())
    work = work_dir or out_file.with_name(out_file.name + ".spark")
    input_dir, results_dir = work / "plan_input", work / "plans"
    write_plan_input(frame, input_dir)
    dtypes = {
        col: str(dtype) for col, dtype in frame.dtypes.items() if col not in (PARTITION, ORDER)
    }
    n_rows = len(frame)
    del frame, view, tables
    timings["features"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    _report(f"planning {n_groups} partitions on Spark ({master})", 0.3)
    config = WorkerConfig(
        model_uri=pinned,
        tracking_uri=tracking_uri,
        params={
            "jp_budget": jp_budget,
            "mentor_capacity": mentor_capacity,
            "model_version": version,
        },
        dtypes=dtypes,
    )
    own_session = spark is None
    session = spark_session(master) if own_session else spark
    assert session is not None  # either given or just started
    timings["spark_start"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    try:
        run_spark_plans(session, input_dir, results_dir, config, n_groups)
        spark_version = session.version
    finally:
        if own_session:
            session.stop()
    timings["spark_job"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    _report("writing JSON Lines", 0.9)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    n = n_mentor = n_min = total_jp = 0
    tmp = out_file.with_suffix(out_file.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for row in iter_result_rows(results_dir):
            plan = plan_record(row)
            fh.write(json.dumps(plan, ensure_ascii=False) + "\n")
            n += 1
            n_mentor += plan["mentor"] is not None
            total_jp += plan["total_jp"]
            n_min += plan["total_jp"] >= min(settings.min_jp_per_year, jp_budget)
    if n != n_rows:
        tmp.unlink(missing_ok=True)
        raise RuntimeError(f"Spark returned {n} plans for {n_rows} employees")
    tmp.replace(out_file)
    timings["write"] = time.perf_counter() - t0
    _report("done", 1.0)
    return {
        "plans": n,
        "with_mentor": n_mentor,
        "mean_jp": round(total_jp / max(1, n), 1),
        "reaching_min_jp": f"{n_min}/{n}",
        "as_of": when.date().isoformat(),
        "model": f"{pinned} (version {version})",
        "engine": f"spark {spark_version} ({master}), {n_groups} partitions",
        "parquet": str(results_dir),
        "out": str(out_file),
        "seconds": round(time.perf_counter() - started, 1),
        "seconds_by_stage": {k: round(v, 1) for k, v in timings.items()},
    }
