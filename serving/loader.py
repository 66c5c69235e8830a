"""Serving states from the outside world: the champion in the MLflow registry and the dataset.

The only serving module that talks to MLflow for the model (mlflow is imported inside the
functions so that building the app stays fast). Models are loaded by version number, after
resolving the alias once, so an alias moved mid-load cannot give a version/model mismatch.
"""

from __future__ import annotations

import os
from typing import Any

from features.settings import Settings
from serving.config import ServingSettings
from serving.state import (
    CHAMPION,
    ServingState,
    Signature,
    build_state,
    data_signature,
    latest_date,
)


class MlflowStateSource:
    """`StateSource` reading `models:/<model_name>@champion` and `Settings.resolved_data_dir`."""

    def __init__(self, settings: Settings, serving: ServingSettings) -> None:
        self.settings = settings
        self.serving = serving
        # A remote MLflow that is down must fail a reload in seconds, not after minutes of
        # retries; the old state keeps serving meanwhile. Explicit settings win.
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", str(serving.mlflow_timeout_s))
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
        self._configured = False

    def _client(self) -> Any:
        import mlflow
        from mlflow import MlflowClient

        uri = self.settings.resolved_tracking_uri
        if not self._configured:
            mlflow.set_tracking_uri(uri)
            mlflow.set_registry_uri(uri)
            self._configured = True
        return MlflowClient(tracking_uri=uri, registry_uri=uri)

    def signature(self) -> Signature:
        from mlflow.exceptions import MlflowException

        name = self.settings.model_name
        try:
            version = self._client().get_model_version_by_alias(name, CHAMPION)
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise
            raise LookupError(
                f"no model {name}@{CHAMPION} in the registry yet; train one (`kompeten train`)"
            ) from exc
        return Signature(str(version.version), data_signature(self.settings.resolved_data_dir))

    def load_planner(self, version: str) -> Any:
        """The `DevelopmentPlanner` inside registered version `version` of the model."""
        import mlflow.pyfunc

        self._client()
        model = mlflow.pyfunc.load_model(f"models:/{self.settings.model_name}/{version}")
        planner = model.unwrap_python_model().planner
        if planner is None:
            raise RuntimeError(f"model version {version} holds no planner")
        return planner

    def load(self, signature: Signature, previous: ServingState | None) -> ServingState:
        from features import columns as c
        from features.build import build_features
        from features.io import load_dataset
        from features.plan_input import employee_view

        if previous is not None and previous.model_version == signature.model_version:
            planner = previous.planner  # only the data changed: keep the loaded model
        else:
            planner = self.load_planner(signature.model_version)
        tables = load_dataset(self.settings.resolved_data_dir)
        as_of = latest_date(tables)
        view = employee_view(tables, build_features(tables, as_of))
        return build_state(
            planner,
            signature.model_version,
            view,
            tables[c.UNITS],
            model_name=self.settings.model_name,
            signature=signature.data_signature,
            plan_cache_size=self.serving.plan_cache_size,
            assignment_cache_size=self.serving.assignment_cache_size,
        )
