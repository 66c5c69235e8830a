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

PLANNER_ARTIFACT = "planner"


class PlannerPyfunc(mlflow.pyfunc.PythonModel):
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
