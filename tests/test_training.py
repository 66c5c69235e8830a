"""The training pipeline end to end on small demo data: evaluation, MLflow, registry, gate."""

from __future__ import annotations

import logging
import re
import shutil
import warnings
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from demo_data import write_demo
from features import columns as c
from features.as_of import latest_date
from features.build import build_features
from features.io import DatasetError, load_dataset
from features.plan_input import employee_view, to_plan_input
from features.settings import Settings
from kompeten.cli import app
from model.plan_rules import course_history, plan_violations
from training_pipeline import tracking
from training_pipeline.batch_plan import plan_partitions
from training_pipeline.run_config import TrainConfig
from training_pipeline.train import run_training

NIP_RE = re.compile(r"(?<!\d)\d{18}(?!\d)")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("training")
    data = root / "demo"
    write_demo(data, n_employees=220, seed=5, years=3)
    settings = Settings(
        home=root / "home", **{"MLFLOW_TRACKING_URI": f"sqlite:///{root / 'home' / 'mlflow.db'}"}
    )
    settings.ensure_home()
    config = TrainConfig(
        data_dir=data,
        truth_dir=root / "demo-truth",
        n_candidates=25,
        baselines=("popularity", "content"),
        ablations=False,
    )
    # Record what MLflow says while the model is logged: `kompeten train` must say nothing.
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = records.append  # type: ignore[method-assign]
    logging.getLogger("mlflow").addHandler(handler)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = run_training(config, settings)
    finally:
        logging.getLogger("mlflow").removeHandler(handler)
    # Deprecation warnings from MLflow's own dependencies are hidden outside tests (Python's
    # default filters); everything else would reach the user.
    shown = [w for w in caught if not issubclass(w.category, DeprecationWarning)]
    mlflow_warnings = [str(w.message) for w in shown if "mlflow" in w.filename] + [
        r.getMessage() for r in records
    ]
    return {
        "root": root,
        "data": data,
        "settings": settings,
        "config": config,
        "result": result,
        "mlflow_warnings": mlflow_warnings,
    }


def test_logging_the_model_gives_no_mlflow_warning(world):
    """No integer-schema hint, no CloudPickle notice, no pip lookup: the model is logged from
    its code file with an explicit signature and environment."""
    assert world["mlflow_warnings"] == []
    name = world["settings"].model_name
    model_dir = Path(mlflow.artifacts.download_artifacts(f"models:/{name}@champion"))
    assert (model_dir / "planner_model.py").is_file()
    assert not (model_dir / "python_model.pkl").exists()
    assert (model_dir / "artifacts" / "planner.joblib").is_file()
    inputs = {
        spec.name: spec
        for spec in mlflow.models.get_model_info(f"models:/{name}@champion").signature.inputs.inputs
    }
    assert inputs["n_enrollments"].type.name == "long" and inputs["n_enrollments"].required
    assert not inputs["days_since_last_training"].required  # NaN is a legal value there


def test_first_version_becomes_champion_and_challenger(world):
    result = world["result"]
    assert result.version == "1" and result.promoted
    assert result.gate_reason == "no champion yet"
    name = world["settings"].model_name
    assert str(tracking.alias_version(name, tracking.CHAMPION).version) == "1"
    assert str(tracking.alias_version(name, tracking.CHALLENGER).version) == "1"


def test_model_is_compared_with_baselines_in_the_same_run(world):
    table = world["result"].comparison
    assert {"planner", "popularity", "content"} <= set(table.index)
    for col in ("holdout_ndcg_at_10", "holdout_recall_at_10", "true_closure_per_jp"):
        assert table[col].notna().all(), col
    assert (table["rule_violations"] == 0).all()
    metrics = world["result"].metrics
    assert 0.0 <= metrics["holdout_risk_auc"] <= 1.0
    assert "holdout_risk_baseline_auc" in metrics


def _known_nips(world) -> set[str]:
    return set(load_dataset(world["data"])[c.EMPLOYEES][c.NIP].astype(str))


def _leaks(text: str, nips: set[str]) -> list[str]:
    return [m for m in NIP_RE.findall(text) if m in nips]


def test_run_logs_params_plots_and_no_personal_data(world):
    nips = _known_nips(world)
    run = MlflowClient().get_run(world["result"].run_id)
    params = run.data.params
    assert params["as_of"] and len(params["dataset_fingerprint"]) == 64
    text = " ".join([*params.values(), *run.data.tags.values(), *run.data.metrics.keys()])
    assert not _leaks(text, nips)
    local = Path(mlflow.artifacts.download_artifacts(run_id=run.info.run_id))
    names = {p.relative_to(local).as_posix() for p in local.rglob("*") if p.is_file()}
    assert {"comparison.csv", "gate_decision.json", "plots/gap_closure.png"} <= names
    for path in local.rglob("*"):
        if path.is_file() and path.suffix in (".csv", ".json", ".txt", ".yaml", ".MLmodel", ""):
            assert not _leaks(path.read_text(errors="ignore"), nips), path
    # The registered model's files too (input example, signature).
    name = world["settings"].model_name
    model_dir = Path(mlflow.artifacts.download_artifacts(f"models:/{name}@champion"))
    for path in model_dir.rglob("*"):
        if path.is_file() and path.suffix != ".joblib" and path.suffix != ".pkl":
            assert not _leaks(path.read_text(errors="ignore"), nips), path


def test_registered_pyfunc_plans_like_the_planner(world):
    name = world["settings"].model_name
    model = mlflow.pyfunc.load_model(f"models:/{name}@champion")
    planner = model.unwrap_python_model().planner
    tables = load_dataset(world["data"])
    view = employee_view(tables, build_features(tables, latest_date(tables)))
    nips = view.employees[c.NIP].head(12).tolist()
    frame = to_plan_input(view.subset(nips))
    out = model.predict(frame)
    assert list(out[c.NIP]) == nips
    direct = planner.plan_frame(frame)
    pd.testing.assert_frame_equal(out.reset_index(drop=True), direct.reset_index(drop=True))

    # The signature declares the plan policy as params: a caller's budget is not dropped.
    declared = {p.name: p.default for p in model.metadata.signature.params.params}
    assert declared["jp_budget"] == planner.jp_budget and declared["model_version"] == ""
    small = model.predict(frame, params={"jp_budget": 8, "model_version": "7"})
    assert (small["total_jp"] <= 8).all() and set(small["model_version"]) == {"7"}
    assert (out["total_jp"] > 8).any()


def test_batch_plans_break_no_rule(world):
    name = world["settings"].model_name
    planner = mlflow.pyfunc.load_model(f"models:/{name}@champion").unwrap_python_model().planner
    tables = load_dataset(world["data"])
    view = employee_view(tables, build_features(tables, latest_date(tables)))
    plans = list(
        plan_partitions(
            planner, view, tables[c.UNITS], jp_budget=30, mentor_capacity=2, model_version="1"
        )
    )
    assert len(plans) == len(view.employees)
    completed, ongoing = course_history(view)
    assert (
        plan_violations(plans, planner.catalog, completed, ongoing, jp_budget=30, mentor_capacity=2)
        == []
    )
    first = plans[0]
    assert set(first) >= {
        "nip", "gaps", "training_path", "total_jp", "mentor", "participation_risk",
        "model_version",
    }  # fmt: skip
    assert any(p["mentor"] for p in plans)
    assert sum(p["total_jp"] >= 20 for p in plans) / len(plans) > 0.9


def test_failed_training_keeps_the_champion(world, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(world["data"], broken)
    emp = broken / "employees.csv"
    lines = emp.read_text().splitlines()
    lines[1] = lines[1].replace(",true", ",maybe", 1).replace(",false", ",maybe", 1)
    emp.write_text("\n".join(lines) + "\n")
    config = TrainConfig(data_dir=broken, baselines=(), ablations=False)
    with pytest.raises(DatasetError):
        run_training(config, world["settings"])
    name = world["settings"].model_name
    assert str(tracking.alias_version(name, tracking.CHAMPION).version) == "1"
    assert [r["version"] for r in tracking.list_versions(name)] == ["1"]


@pytest.mark.parametrize(
    ("challenger", "champion", "tolerance", "promote"),
    [
        (0.30, None, 0.0, True),
        (0.30, 0.30, 0.0, True),
        (0.29, 0.30, 0.0, False),
        (0.29, 0.30, 0.05, True),
        (0.31, 0.30, 0.0, True),
    ],
)
def test_gate_promotes_only_when_not_worse(challenger, champion, tolerance, promote):
    decision = tracking.decide_gate(
        {"m": challenger}, None if champion is None else {"m": champion}, "3", "m", tolerance
    )
    assert decision.promote is promote
    assert decision.metric == "m" and decision.reason


@pytest.mark.parametrize(
    ("value", "interval", "champion", "violations", "promote", "why"),
    [
        (0.20, (0.18, 0.22), 0.21, 0.0, True, "within its interval"),
        (0.20, (0.18, 0.22), 0.23, 0.0, False, "worse beyond its interval"),
        (0.25, (0.23, 0.27), 0.21, 0.0, True, "not worse than"),
        (0.25, (0.23, 0.27), 0.21, 2.0, False, "break 2 plan rules"),
        (0.25, (0.23, 0.27), None, 1.0, False, "break 1 plan rules"),
    ],
)
def test_benefit_gate_uses_the_interval_and_the_plan_rules(
    value, interval, champion, violations, promote, why
):
    metric = tracking.GATE_METRIC
    low_key, high_key = tracking.GATE_INTERVALS[metric]
    challenger = {
        metric: value,
        low_key: interval[0],
        high_key: interval[1],
        tracking.GATE_VIOLATIONS[metric]: violations,
    }
    decision = tracking.decide_gate(
        challenger, None if champion is None else {metric: champion}, "4", metric, 0.0
    )
    assert decision.promote is promote and why in decision.reason
    assert (decision.ci_low, decision.ci_high) == interval


def test_gate_refuses_a_popularity_challenger_against_a_planner_champion(world):
    """The same run's holdout plans: popularity as challenger, the planner as champion."""
    metrics = world["result"].metrics
    metric = tracking.GATE_METRIC
    assert world["config"].gate_metric == metric
    champion = {k: v for k, v in metrics.items() if "." not in k}
    challenger = {
        k.removeprefix("popularity."): v for k, v in metrics.items() if k.startswith("popularity.")
    }
    assert challenger[metric] < champion[metric]
    decision = tracking.decide_gate(challenger, champion, "1", metric, 0.0)
    assert not decision.promote
    assert "worse beyond its interval" in decision.reason
    assert decision.ci_high is not None and decision.ci_high < champion[metric]
    # ... while the planner would not be refused against a popularity champion.
    assert tracking.decide_gate(champion, challenger, "1", metric, 0.0).promote


def test_run_records_the_gate_metric_values_and_interval(world):
    run = MlflowClient().get_run(world["result"].run_id)
    metrics, tags = run.data.metrics, run.data.tags
    assert tags["gate.metric"] == tracking.GATE_METRIC and tags["gate.reason"] == "no champion yet"
    low, high = metrics["gate_challenger_ci_low"], metrics["gate_challenger_ci_high"]
    assert low <= metrics["gate_challenger_value"] <= high
    assert metrics["gate_challenger_value"] == metrics[tracking.GATE_METRIC]
    assert metrics["gate_rule_violations"] == 0.0
    table = world["result"].comparison
    assert (table["holdout_rule_violations"] == 0).all()
    # NDCG stays a reported diagnostic next to the gate metric.
    assert table[["holdout_ndcg_at_10", tracking.GATE_METRIC]].notna().all().all()


def test_personal_data_guard_refuses_nips():
    with pytest.raises(tracking.PersonalDataError):
        tracking.assert_no_personal_data({"x": "198512272012031001"}, "params")
    tracking.assert_no_personal_data({"x": "p_0123abcd", "y": 0.30000000000000004}, "params")


def test_tables_written_to_a_log_are_not_cut_to_80_columns(monkeypatch):
    """`kompeten train > train.log`: the summary table keeps its numbers (rich's default for a
    pipe is 80 columns, which cut them to "0.2..."); an explicit COLUMNS still wins."""
    from features.cli_support import LOG_WIDTH, _console

    monkeypatch.delenv("COLUMNS", raising=False)
    assert _console().width == LOG_WIDTH
    monkeypatch.setenv("COLUMNS", "100")
    assert _console().width == 100


def test_validate_cli_exit_codes(world, tmp_path):
    runner = CliRunner()
    ok = runner.invoke(app, ["validate", "--data", str(world["data"])])
    assert ok.exit_code == 0, ok.output
    broken = tmp_path / "bad"
    shutil.copytree(world["data"], broken)
    units = broken / "units.csv"
    units.write_text(units.read_text() + "KEC-X,Kecamatan X,NO-SUCH-UNIT\n")
    bad = runner.invoke(app, ["validate", "--data", str(broken)])
    assert bad.exit_code == 1
    assert "units.csv" in bad.output and "parent_unit_id" in bad.output


def test_model_artifact_holds_no_nip(world):
    """The joblib planner inside the pyfunc carries what it learned, not who it learned from."""
    import pickle

    name = world["settings"].model_name
    planner = mlflow.pyfunc.load_model(f"models:/{name}@champion").unwrap_python_model().planner
    blob = pickle.dumps(planner).decode("latin-1")
    assert not _leaks(blob, _known_nips(world))


def test_personal_data_guard_ignores_float_digits():
    """A float whose decimals form 18 digits is not an NIP (it once failed a 10k training)."""
    tracking.assert_no_personal_data({"challenger_value": 0.012345678901234568}, "gate")
    tracking.assert_no_personal_data([0.0123456789012345678, {"k": 1.5}], "list")
    with pytest.raises(tracking.PersonalDataError):
        tracking.assert_no_personal_data({"nested": ["198512272012031001"]}, "list")


def test_split_view_equals_subset_per_group(world):
    from features.plan_input import split_view
    from training_pipeline.batch_plan import partitions

    tables = load_dataset(world["data"])
    view = employee_view(tables, build_features(tables, latest_date(tables)))
    nips = view.employees[c.NIP].tolist()
    groups = {"a": nips[::3], "b": nips[1::3], "c": nips[2::3]}
    split = split_view(view, groups)
    for key, members in groups.items():
        expected = view.subset(members)
        for name in ("employees", "competency", "completed", "ongoing"):
            got = getattr(split[key], name).reset_index(drop=True)
            want = getattr(expected, name).reset_index(drop=True)
            pd.testing.assert_frame_equal(
                got.sort_values(list(got.columns[:2])).reset_index(drop=True),
                want.sort_values(list(want.columns[:2])).reset_index(drop=True),
                check_dtype=False,
            )
    assert set(partitions(view, tables[c.UNITS])) <= set(tables[c.UNITS][c.UNIT_ID])
