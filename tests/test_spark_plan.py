"""The Spark engine of `kompeten plan` gives the pandas engine's plans, plan for plan.

One small demo (150 employees in seven planning partitions), one planner fitted and registered
in a temporary MLflow, both engines run on it; the JSON Lines files are compared per NIP and
line for line. Skipped (with the reason) only when pyspark or Java is missing.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from features import columns as c
from features.settings import Settings

N_EMPLOYEES = 150
# The registered input example has int columns; MLflow hints about missing values once.
pytestmark = pytest.mark.filterwarnings("ignore:Hint. Inferred schema:UserWarning")

if importlib.util.find_spec("pyspark") is None:
    pytest.skip("pyspark is not installed (pip install 'kompeten[spark]')", allow_module_level=True)
if shutil.which("java") is None:
    pytest.skip("no Java runtime on PATH (Spark needs Java 17+)", allow_module_level=True)


def _kelurahan_as_partitions(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Hang every kelurahan straight under the city: each becomes its own planning partition.

    150 demo employees all work in one kecamatan (one partition); this gives the engines
    seven partitions of ~20 people without the cost of a bigger dataset.
    """
    units = tables[c.UNITS].copy()
    root = units.loc[units[c.PARENT_UNIT_ID].isna(), c.UNIT_ID].iloc[0]
    kelurahan = units[c.UNIT_ID].str.startswith("KEL-")
    units.loc[kelurahan, c.PARENT_UNIT_ID] = root
    return {**tables, c.UNITS: units}


def _register(root: Path, data_dir: Path, settings: Settings) -> str:
    """Fit the training pipeline's planner (kept small) and register it as champion."""
    from features.as_of import latest_date
    from features.io import load_dataset
    from model.bundle import PLANNER_ARTIFACT, save_planner
    from training_pipeline import tracking
    from training_pipeline.fitting import fit_planner
    from training_pipeline.registration import PLANNER_MODEL_CODE, input_example
    from training_pipeline.run_config import TrainConfig

    tables = load_dataset(data_dir)
    as_of = latest_date(tables)
    planner = fit_planner(tables, as_of, TrainConfig(data_dir=data_dir, n_candidates=20))
    path = save_planner(planner, root)
    example = input_example(tables, as_of, settings)
    with tracking.run(settings, "spark-tests", run_name="spark-test"):
        version = tracking.log_pyfunc_model(
            PLANNER_MODEL_CODE,
            {PLANNER_ARTIFACT: str(path)},
            example,
            planner.plan_frame(example),
            settings.model_name,
            pip_requirements=[],
        )
    tracking.set_alias(settings.model_name, tracking.CHAMPION, version.version)
    return str(version.version)


@pytest.fixture(scope="module")
def world() -> Iterator[tuple[Path, Path, Settings, str]]:
    from demo_data import generate_demo
    from features.io import write_dataset

    root = Path(tempfile.mkdtemp(prefix="kompeten-spark-tests-"))
    data_dir = root / "data"
    tables = generate_demo(n_employees=N_EMPLOYEES, seed=11, years=3).tables
    write_dataset(_kelurahan_as_partitions(tables), data_dir)
    home = root / "home"
    settings = Settings(home=home, **{"MLFLOW_TRACKING_URI": f"sqlite:///{home / 'mlflow.db'}"})
    settings.ensure_home()
    version = _register(root, data_dir, settings)
    yield root, data_dir, settings, version
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def outputs(world) -> tuple[list[str], list[str], dict, dict]:
    from training_pipeline.batch_plan import run_plan
    from training_pipeline.spark_plan import run_plan_spark

    root, data_dir, settings, _ = world
    pandas_out, spark_out = root / "pandas.jsonl", root / "spark.jsonl"
    pandas_summary = run_plan(data_dir, pandas_out, settings, jp_budget=40, mentor_capacity=2)
    spark_summary = run_plan_spark(
        data_dir, spark_out, settings, jp_budget=40, mentor_capacity=2, master="local[2]"
    )
    return (
        pandas_out.read_text(encoding="utf-8").splitlines(),
        spark_out.read_text(encoding="utf-8").splitlines(),
        pandas_summary,
        spark_summary,
    )


def test_spark_plans_equal_pandas_plans(outputs, world) -> None:
    pandas_lines, spark_lines, _, _ = outputs
    pandas_plans = {p[c.NIP]: p for p in map(json.loads, pandas_lines)}
    spark_plans = {p[c.NIP]: p for p in map(json.loads, spark_lines)}
    assert len(pandas_plans) == len(pandas_lines) > 100
    assert spark_plans.keys() == pandas_plans.keys()
    for nip, plan in pandas_plans.items():
        assert spark_plans[nip] == plan, nip
    # Same file, line for line: same order, same JSON text.
    assert spark_lines == pandas_lines
    assert any(p["mentor"] for p in spark_plans.values())
    assert any(p["training_path"] for p in spark_plans.values())
    assert {p["model_version"] for p in spark_plans.values()} == {world[3]}


def test_spark_run_summary_and_partitioned_parquet(outputs, world) -> None:
    import pyarrow.parquet as pq

    from training_pipeline.spark_plan import ORDER, PARTITION

    _, _, pandas_summary, spark_summary = outputs
    for key in ("plans", "with_mentor", "mean_jp", "reaching_min_jp", "as_of"):
        assert spark_summary[key] == pandas_summary[key], key
    root = world[0]
    parts = sorted(p.name for p in (root / "spark.jsonl.spark" / "plan_input").iterdir())
    assert len(parts) == 7 and all(p.startswith(f"{PARTITION}=") for p in parts)
    plans = pq.read_table(root / "spark.jsonl.spark" / "plans").to_pandas()
    assert len(plans) == spark_summary["plans"]
    assert sorted(plans[ORDER]) == list(range(len(plans)))
    # Every partition's plans came from one group: a mentor never crosses a partition.
    by_nip = plans.set_index(c.NIP)[PARTITION]
    for nip, mentor in zip(plans[c.NIP], plans["mentor"], strict=True):
        pair = json.loads(mentor)
        if pair is not None:
            assert by_nip[pair["mentor_nip"]] == by_nip[nip]


def test_restore_dtypes_undoes_arrow_widening() -> None:
    from training_pipeline.spark_plan import restore_dtypes

    widened = pd.DataFrame({"n": [1.0, None], "s": ["a", None]})
    back = restore_dtypes(widened, {"n": "Int64", "s": "object"})
    assert str(back["n"].dtype) == "Int64" and back["n"].isna().tolist() == [False, True]
    assert back["s"].tolist() == ["a", None]
