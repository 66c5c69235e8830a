"""The MLflow pyfunc face of the planner, logged as code (MLflow's models-from-code).

`training_pipeline.tracking.log_pyfunc_model` logs this file by path, with the fitted
`model.planner.DevelopmentPlanner` as the joblib artifact `planner` beside it: no object is
pickled by MLflow. `predict` takes the plan-input frame (one row per employee, built by
`features.plan_input.to_plan_input`) and returns one row per employee with the plan as JSON
columns. MLflow itself comes through `tracking`, the training side's one MLflow module.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from model.bundle import PLANNER_ARTIFACT, load_planner_file
from training_pipeline.tracking import PythonModel, set_model


class PlannerPyfunc(PythonModel):
    """Plans from the planner stored as the model's `planner` artifact."""

    def __init__(self) -> None:
        self.planner: Any | None = None

    def load_context(self, context: Any) -> None:
        self.planner = load_planner_file(context.artifacts[PLANNER_ARTIFACT])

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        if self.planner is None:
            raise RuntimeError("planner artifact not loaded")
        return self.planner.plan_frame(model_input, **dict(params or {}))


set_model(PlannerPyfunc())
