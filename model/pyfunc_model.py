"""The MLflow pyfunc face of the planner: one model, the fitted estimators as joblib inside.

`predict` takes the plan-input frame (one row per employee, built by
`features.plan_input.plan_input_frame`) and returns one row per employee with the plan as JSON
columns, so the same registered model serves the API, `kompeten plan` and Spark's mapInPandas.
"""

from __future__ import annotations

from typing import Any

import joblib
import mlflow.pyfunc
import pandas as pd
from mlflow.pyfunc import PythonModel

PLANNER_ARTIFACT = "planner"


class PlannerPyfunc(PythonModel):
    """Wraps a fitted `model.planner.DevelopmentPlanner` stored as a joblib artifact."""

    def __init__(self, planner: Any | None = None) -> None:
        # Set when logging (to compute the output example); reloaded from the artifact later.
        self.planner = planner

    def load_context(self, context: Any) -> None:
        self.planner = joblib.load(context.artifacts[PLANNER_ARTIFACT])

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        if self.planner is None:
            raise RuntimeError("planner artifact not loaded")
        params = dict(params or {})
        return self.planner.plan_frame(model_input, **params)


def resolve_version(model_uri: str) -> str | None:
    """Registry version behind `models:/NAME@alias` or `models:/NAME/VERSION` (else None)."""
    from mlflow import MlflowClient

    if not model_uri.startswith("models:/"):
        return None
    ref = model_uri.removeprefix("models:/")
    client = MlflowClient()
    if "@" in ref:
        name, alias = ref.split("@", 1)
        return str(client.get_model_version_by_alias(name, alias).version)
    name, _, version = ref.partition("/")
    return version or None


def load_planner(model_uri: str) -> tuple[Any, str | None]:
    """The fitted planner inside a registered pyfunc, and its registry version."""
    version = resolve_version(model_uri)
    pyfunc = mlflow.pyfunc.load_model(model_uri)
    planner = pyfunc.unwrap_python_model().planner
    if planner is None:
        raise RuntimeError(f"{model_uri} holds no planner")
    return planner, version
