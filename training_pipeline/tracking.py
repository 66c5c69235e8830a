"""Everything the training side says to MLflow: runs, params, metrics, plots, the registry.

The only training-side module that imports mlflow: logging the planner pyfunc (models-from-code,
`training_pipeline/planner_model.py`, which takes `PythonModel` and `set_model` from here),
registry versions and aliases, the promotion gate, and loading a registered planner back for
batch and Spark plans (download the version's files, then `model.bundle.load_planner_file`).
Values reaching MLflow are checked for clear-text NIPs first (`assert_no_personal_data`),
because a leak there cannot be taken back.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature, infer_signature, set_model
from mlflow.pyfunc import PythonModel
from mlflow.types import ColSpec, Schema, TensorSpec

from features.privacy import PersonalDataError, assert_no_personal_data  # noqa: F401
from features.settings import Settings
from model.bundle import load_planner_file

__all__ = ["PythonModel", "set_model"]  # re-exported for the models-from-code file

# MLflow narrates every step at INFO ("Detected uv project", "Creating initial MLflow database
# tables", "Validating input example"): nothing a user acts on. Warnings still show.
logging.getLogger("mlflow").setLevel(logging.WARNING)
# Batch jobs download a registered model: no progress bar per file (explicit settings win).
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

CHAMPION = "champion"
CHALLENGER = "challenger"


def configure(settings: Settings) -> str:
    """Point MLflow at the configured store; create the local folder for the embedded default."""
    uri = settings.resolved_tracking_uri
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    use_store(uri)
    return uri


def use_store(uri: str) -> None:
    """Point MLflow's tracking and registry at `uri` (a Spark worker has no Settings to read)."""
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)


def ensure_experiment(name: str, settings: Settings) -> str:
    """Experiment id, creating it with artifacts under var/ when the store is a local file."""
    client = MlflowClient()
    exp = client.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    location = None
    if settings.resolved_tracking_uri.startswith("sqlite:"):
        settings.artifact_root.mkdir(parents=True, exist_ok=True)
        location = settings.artifact_root.as_uri()
    return client.create_experiment(name, artifact_location=location)


@contextmanager
def run(
    settings: Settings, experiment: str, run_name: str, tags: Mapping[str, str] | None = None
) -> Iterator[mlflow.ActiveRun]:
    """A tracked run; marked FAILED (and re-raised) when the body raises."""
    configure(settings)
    experiment_id = ensure_experiment(experiment, settings)
    assert_no_personal_data(dict(tags or {}), "run tags")
    with mlflow.start_run(
        experiment_id=experiment_id, run_name=run_name, tags=dict(tags or {})
    ) as active:
        yield active


def log_params(params: Mapping[str, Any]) -> None:
    assert_no_personal_data(dict(params), "params")
    mlflow.log_params({k: (v if v is not None else "none") for k, v in params.items()})


def log_metrics(metrics: Mapping[str, float], step: int | None = None) -> None:
    clean = {k: float(v) for k, v in metrics.items() if v is not None and pd.notna(v)}
    mlflow.log_metrics(clean, step=step)


def log_table(frame: pd.DataFrame, artifact_file: str) -> None:
    """A DataFrame as a CSV artifact (checked for personal data)."""
    assert_no_personal_data(frame, artifact_file)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / Path(artifact_file).name
        frame.to_csv(path, index=False)
        parent = str(Path(artifact_file).parent)
        mlflow.log_artifact(str(path), artifact_path=None if parent == "." else parent)


def log_dict(data: Mapping[str, Any], artifact_file: str) -> None:
    assert_no_personal_data(dict(data), artifact_file)
    mlflow.log_dict(dict(data), artifact_file)


def log_figure(figure: Any, artifact_file: str) -> None:
    mlflow.log_figure(figure, artifact_file)


def set_tags(tags: Mapping[str, str]) -> None:
    assert_no_personal_data(dict(tags), "tags")
    mlflow.set_tags(dict(tags))


def log_pyfunc_model(
    model_code: str | Path,
    artifacts: Mapping[str, str],
    input_example: pd.DataFrame,
    output_example: pd.DataFrame,
    registered_model_name: str,
    pip_requirements: list[str],
    metadata: Mapping[str, Any] | None = None,
    params: Mapping[str, Any] | None = None,
) -> ModelVersion:
    """Log ONE pyfunc model from its code file (artifacts beside it) and register a version.

    Models-from-code: MLflow stores the file, not a pickled object. The signature is built
    from the examples' dtypes (`frame_schema`); `params` (name -> default) become its params
    schema: without one, MLflow drops every `predict(..., params=...)` a caller passes (e.g. a
    JP budget). The environment is given explicitly (`conda_env`), so MLflow need not look
    for pip (the runtime venv has none).
    """
    assert_no_personal_data(input_example, "input_example")
    signature = ModelSignature(
        inputs=frame_schema(input_example), outputs=frame_schema(output_example)
    )
    if params:
        signature.params = infer_signature(params=dict(params)).params
    info = mlflow.pyfunc.log_model(
        name="planner",
        python_model=str(model_code),
        artifacts=dict(artifacts),
        signature=signature,
        input_example=input_example,
        conda_env=conda_env(pip_requirements),
        registered_model_name=registered_model_name,
        metadata=dict(metadata or {}),
    )
    client = MlflowClient()
    versions = client.search_model_versions(
        f"name='{registered_model_name}' and run_id='{info.run_id}'"
    )
    if not versions:
        raise RuntimeError("model was logged but no registered version was found")
    return max(versions, key=lambda v: int(v.version))


def frame_schema(frame: pd.DataFrame) -> Schema:
    """A column schema read from the frame's dtypes, not inferred from a few example rows.

    Integer and boolean columns (counts, flags: `to_plan_input` always fills them) are
    required longs / booleans; float, string and date columns may be missing (NaN / null is
    a legal value there), whatever the example happens to hold. MLflow's own inference would
    take `required` from the example's rows and warn about integer columns.
    """
    specs: list[ColSpec | TensorSpec] = []
    for name in frame.columns:
        series = frame[name]
        if pd.api.types.is_bool_dtype(series):
            kind = "boolean"
        elif pd.api.types.is_integer_dtype(series):
            kind = "long"
        elif pd.api.types.is_float_dtype(series):
            kind = "double"
        elif pd.api.types.is_datetime64_any_dtype(series):
            kind = "datetime"
        else:
            kind = "string"
        specs.append(ColSpec(kind, str(name), required=kind in ("long", "boolean")))
    return Schema(specs)


def conda_env(pip_requirements: list[str]) -> dict[str, Any]:
    """The model's environment: this Python, and the pinned pip requirements plus MLflow."""
    from importlib.metadata import version

    python = ".".join(str(part) for part in sys.version_info[:3])
    pins = [f"mlflow-skinny=={version('mlflow-skinny')}", *pip_requirements]
    return {
        "name": "kompeten-planner",
        "channels": ["conda-forge"],
        "dependencies": [f"python={python}", "pip", {"pip": pins}],
    }


def resolve_version(model_uri: str) -> str | None:
    """Registry version behind `models:/NAME@alias` or `models:/NAME/VERSION` (else None)."""
    if not model_uri.startswith("models:/"):
        return None
    ref = model_uri.removeprefix("models:/")
    if "@" in ref:
        name, alias = ref.split("@", 1)
        return str(MlflowClient().get_model_version_by_alias(name, alias).version)
    name, _, version = ref.partition("/")
    return version or None


def pinned_uri(model_uri: str, version: str | None) -> str:
    """`models:/NAME/VERSION` for an alias URI, so a promotion mid-run cannot mix two models."""
    if not version or not model_uri.startswith("models:/"):
        return model_uri
    return f"models:/{model_uri.removeprefix('models:/').split('@')[0].split('/')[0]}/{version}"


def load_registered_planner(model_uri: str) -> tuple[Any, str | None]:
    """The fitted planner of a registered model version, and that version.

    Downloads the version's files and opens `artifacts/planner.joblib` with
    `model.bundle.load_planner_file`: the model code is never executed to get at the planner.
    """
    version = resolve_version(model_uri)
    with tempfile.TemporaryDirectory(prefix="kompeten-planner-") as tmp:
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=pinned_uri(model_uri, version), dst_path=tmp
        )
        planner = load_planner_file(local)
    return planner, version


# --- registry ------------------------------------------------------------------------------


def alias_version(name: str, alias: str) -> ModelVersion | None:
    """The version holding an alias, or None when the model or alias does not exist."""
    try:
        return MlflowClient().get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def set_alias(name: str, alias: str, version: str) -> None:
    MlflowClient().set_registered_model_alias(name, alias, str(version))


def version_metrics(version: ModelVersion) -> dict[str, float]:
    """Holdout metrics of the run that produced a version."""
    if not version.run_id:
        return {}
    return dict(MlflowClient().get_run(version.run_id).data.metrics)


#: The default gate metric: the estimated gap the plans made at the holdout cutoff close, per
#: employee, from observed outcomes (`training_pipeline.evaluate.gap_closure_estimated`).
GATE_METRIC = "holdout_est_gap_closed_per_employee"
#: Gate metric -> the challenger's bootstrap interval bounds (low, high) and the plan-rule
#: violation count logged with it; metrics not listed here gate on their value alone.
GATE_INTERVALS = {
    GATE_METRIC: ("holdout_est_gap_closed_ci_low", "holdout_est_gap_closed_ci_high"),
    "est_gap_closed_per_employee": ("est_gap_closed_ci_low", "est_gap_closed_ci_high"),
}
GATE_VIOLATIONS = {
    GATE_METRIC: "holdout_rule_violations",
    "est_gap_closed_per_employee": "rule_violations",
}


@dataclass(frozen=True)
class GateDecision:
    """Whether a challenger becomes champion, and why (logged with the run)."""

    promote: bool
    reason: str
    metric: str
    challenger_value: float | None
    champion_value: float | None
    champion_version: str | None
    ci_low: float | None = None
    ci_high: float | None = None
    rule_violations: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "promote": self.promote,
            "reason": self.reason,
            "metric": self.metric,
            "challenger_value": self.challenger_value,
            "champion_value": self.champion_value,
            "champion_version": self.champion_version,
            "challenger_ci_low": self.ci_low,
            "challenger_ci_high": self.ci_high,
            "challenger_rule_violations": self.rule_violations,
        }

    def as_metrics(self) -> dict[str, float]:
        """The numbers of the decision as run metrics (`gate_*`), so MLflow can compare them."""
        values = {
            "gate_promote": float(self.promote),
            "gate_challenger_value": self.challenger_value,
            "gate_champion_value": self.champion_value,
            "gate_challenger_ci_low": self.ci_low,
            "gate_challenger_ci_high": self.ci_high,
            "gate_rule_violations": self.rule_violations,
        }
        return {k: float(v) for k, v in values.items() if v is not None and pd.notna(v)}


def _value(metrics: Mapping[str, float], key: str | None) -> float | None:
    if key is None:
        return None
    value = metrics.get(key)
    return None if value is None or pd.isna(value) else float(value)


def decide_gate(
    challenger_metrics: Mapping[str, float],
    champion_metrics: Mapping[str, float] | None,
    champion_version: str | None,
    metric: str,
    tolerance: float,
    higher_is_better: bool = True,
) -> GateDecision:
    """Pure gate: promote when there is no champion or the challenger is not worse than it.

    For a metric with a bootstrap interval (`GATE_INTERVALS`), "worse" means worse beyond the
    challenger's interval: refused only when the champion's value lies above the interval's
    upper bound (below its lower bound when lower is better), less `tolerance` x the champion's
    value. Plans that break a plan rule (`GATE_VIOLATIONS`) are refused whatever their value.
    """
    value = _value(challenger_metrics, metric)
    low_key, high_key = GATE_INTERVALS.get(metric, (None, None))
    low, high = _value(challenger_metrics, low_key), _value(challenger_metrics, high_key)
    broken = _value(challenger_metrics, GATE_VIOLATIONS.get(metric))
    champion_value = None if champion_metrics is None else _value(champion_metrics, metric)

    def decision(promote: bool, reason: str) -> GateDecision:
        return GateDecision(
            promote,
            reason,
            metric,
            value,
            champion_value,
            champion_version if champion_metrics is not None else None,
            low,
            high,
            broken,
        )

    if value is None:
        return decision(False, f"challenger has no {metric}")
    if broken:
        return decision(False, f"challenger's plans break {int(broken)} plan rules")
    if champion_metrics is None:
        return decision(True, "no champion yet")
    if champion_value is None:
        return decision(True, f"champion has no {metric}")
    best = champion_value
    margin = tolerance * abs(best)
    bound = (high if higher_is_better else low) if low is not None and high is not None else None
    reach = value if bound is None else bound
    ok = reach >= best - margin if higher_is_better else reach <= best + margin
    if bound is None:
        verdict = "not worse than" if ok else "worse than"
        reason = f"{metric} {value:.4f} {verdict} champion v{champion_version} {best:.4f}"
    else:
        interval = f"{value:.4f} [95% interval {low:.4f}, {high:.4f}]"
        if ok and (value >= best - margin if higher_is_better else value <= best + margin):
            verdict = "not worse than"
        elif ok:
            verdict = "within its interval of"
        else:
            verdict = "worse beyond its interval than"
        reason = f"{metric} {interval} {verdict} champion v{champion_version} {best:.4f}"
    if tolerance:
        reason += f" (tolerance {tolerance:.1%})"
    return decision(ok, reason)


def list_versions(name: str) -> list[dict[str, Any]]:
    """Versions of a registered model, newest first, with aliases and key metrics."""
    client = MlflowClient()
    try:
        versions = client.search_model_versions(f"name='{name}'")
    except MlflowException:
        return []
    aliases: dict[str, list[str]] = {}
    try:
        for alias, ver in client.get_registered_model(name).aliases.items():
            aliases.setdefault(str(ver), []).append(alias)
    except MlflowException:
        pass
    rows = []
    for v in sorted(versions, key=lambda v: int(v.version), reverse=True):
        metrics = version_metrics(v)
        rows.append(
            {
                "version": str(v.version),
                "aliases": ",".join(sorted(aliases.get(str(v.version), []))),
                "created": pd.Timestamp(v.creation_timestamp, unit="ms").strftime("%Y-%m-%d %H:%M"),
                "run_id": v.run_id,
                **{
                    k: metrics[k]
                    for k in sorted(metrics)
                    if k.startswith(("holdout_", "gate_")) or k == "true_closure_per_jp"
                },
            }
        )
    return rows
