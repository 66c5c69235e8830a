"""Everything the training side says to MLflow: runs, params, metrics, plots, the registry.

The only training module that imports mlflow. Values reaching MLflow are checked for clear-text
NIPs first (`assert_no_personal_data`), because a leak there cannot be taken back.
"""

from __future__ import annotations

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
from mlflow.pyfunc import PythonModel

from features.privacy import PersonalDataError, assert_no_personal_data  # noqa: F401
from features.settings import Settings

CHAMPION = "champion"
CHALLENGER = "challenger"


def configure(settings: Settings) -> str:
    """Point MLflow at the configured store; create the local folder for the embedded default."""
    uri = settings.resolved_tracking_uri
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return uri


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
    python_model: PythonModel,
    artifacts: Mapping[str, str],
    input_example: pd.DataFrame,
    registered_model_name: str,
    pip_requirements: list[str],
    metadata: Mapping[str, Any] | None = None,
    params: Mapping[str, Any] | None = None,
) -> ModelVersion:
    """Log ONE pyfunc model (joblib artifacts inside) and register a new version of it.

    `params` (name -> default) become the signature's params schema: without one, MLflow
    drops every `predict(..., params=...)` a caller passes (e.g. a JP budget) with a warning.
    """
    from mlflow.models import infer_signature

    assert_no_personal_data(input_example, "input_example")
    output_example = python_model.predict(None, input_example)  # type: ignore[arg-type]
    signature = infer_signature(input_example, output_example, params=dict(params or {}))
    info = mlflow.pyfunc.log_model(
        name="planner",
        python_model=python_model,
        artifacts=dict(artifacts),
        signature=signature,
        input_example=input_example,
        pip_requirements=pip_requirements,
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


@dataclass(frozen=True)
class GateDecision:
    """Whether a challenger becomes champion, and why (logged with the run)."""

    promote: bool
    reason: str
    metric: str
    challenger_value: float | None
    champion_value: float | None
    champion_version: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "promote": self.promote,
            "reason": self.reason,
            "metric": self.metric,
            "challenger_value": self.challenger_value,
            "champion_value": self.champion_value,
            "champion_version": self.champion_version,
        }


def decide_gate(
    challenger_metrics: Mapping[str, float],
    champion_metrics: Mapping[str, float] | None,
    champion_version: str | None,
    metric: str,
    tolerance: float,
    higher_is_better: bool = True,
) -> GateDecision:
    """Pure gate: promote when there is no champion or the challenger is not worse than it."""
    value = challenger_metrics.get(metric)
    if value is None or pd.isna(value):
        return GateDecision(False, f"challenger has no {metric}", metric, None, None, None)
    if champion_metrics is None:
        return GateDecision(True, "no champion yet", metric, float(value), None, None)
    best = champion_metrics.get(metric)
    if best is None or pd.isna(best):
        return GateDecision(
            True, f"champion has no {metric}", metric, float(value), None, champion_version
        )
    margin = tolerance * abs(best)
    ok = value >= best - margin if higher_is_better else value <= best + margin
    verdict = "not worse than" if ok else "worse than"
    reason = f"{metric} {value:.4f} {verdict} champion v{champion_version} {best:.4f}"
    if tolerance:
        reason += f" (tolerance {tolerance:.1%})"
    return GateDecision(ok, reason, metric, float(value), float(best), champion_version)


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
                    if k.startswith("holdout_") or k == "true_closure_per_jp"
                },
            }
        )
    return rows
