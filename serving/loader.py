"""Serving states from the outside world: the champion in the MLflow registry and the dataset
store (`features.dataset_store`, on `Settings.resolved_database_url`).

The data side of a state's signature is the store's revision: an ingest on any worker or host
raises it, and the next check rebuilds the state from the store with the same model (no
retraining). A store that is still empty is first filled from `Settings.resolved_data_dir`
(the embedded default: the demo folder `make run` writes), once.

The registry is asked through `serving.mlflow_client.Registry` (imported when a source is
made, so that building the app with another source stays fast). Models are loaded by version
number, after resolving the alias once, so an alias moved mid-load cannot give a version/model
mismatch. The planner is read from the version's downloaded files with
`model.bundle.load_planner_file` (joblib), never through the pyfunc's own code.

Every champion served is also kept as a local copy (`serving.champion_copy`). When the
registry cannot be reached at start-up, the service serves that copy, says so in the log and in
/readyz (`model_source: local_copy`), and goes back to the registry once it answers.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

from features.database import make_engine
from features.dataset_store import DatasetStore, revision_signature
from features.io import DatasetError
from features.settings import Settings
from model.bundle import load_planner_file
from serving.champion_copy import ChampionCopy
from serving.state import (
    CHAMPION,
    FROM_LOCAL_COPY,
    FROM_REGISTRY,
    ServingState,
    build_state,
    latest_date,
)
from serving.state_holder import Signature, describe_failure

logger = logging.getLogger("kompeten.serving")
#: Marks a signature served from the local copy, so that the registry's answer differs from it.
_LOCAL = "local:"


class MlflowStateSource:
    """`StateSource` reading `models:/<model_name>@champion` and the dataset store."""

    def __init__(self, settings: Settings, store: DatasetStore | None = None) -> None:
        self.settings = settings
        self._store = store
        self._registry: Any = None
        self.copy = ChampionCopy(settings.home)
        self._loaded = False
        self._offline_reason: str | None = None

    @property
    def registry(self) -> Any:
        """`serving.mlflow_client.Registry` of `settings.resolved_tracking_uri` (made anew when
        the settings point elsewhere)."""
        from serving.mlflow_client import Registry, limit_http

        uri = self.settings.resolved_tracking_uri
        if self._registry is None or self._registry.tracking_uri != uri:
            # A remote MLflow that is down must fail a reload in seconds, not after minutes of
            # retries; the old state keeps serving meanwhile. Explicit settings win.
            limit_http(self.settings.serve.mlflow_timeout_s, max_retries=2)
            self._registry = Registry(uri)
        return self._registry

    @property
    def store(self) -> DatasetStore:
        """The dataset store (its schema made, and filled from the data folder while empty)."""
        if self._store is None:
            store = DatasetStore(make_engine(self.settings.resolved_database_url))
            store.create_schema()
            self._store = store
        return self._store

    def data_signature(self) -> str:
        """`store:<revision>`; an empty store is first filled from the data folder."""
        store = self.store
        revision = store.revision()
        folder = self.settings.resolved_data_dir
        if revision == 0 and folder.is_dir():
            result = store.import_folder(folder, sender="serve:bootstrap")
            if not result.ok:
                raise DatasetError(result.report)
            revision = result.revision
            logger.info(
                "dataset store was empty: imported %s (%d rows), revision %d",
                folder,
                result.stored,
                revision,
            )
        return revision_signature(revision)

    def signature(self) -> Signature:
        """The registry's champion; before anything was loaded and with the registry
        unreachable, the version of the local copy instead."""
        try:
            return self._registry_signature()
        except LookupError:
            raise  # the registry answered: there is no champion
        except Exception as exc:
            saved = None if self._loaded else self.copy.saved(self.settings.model_name)
            if saved is None:
                raise
            self._offline_reason = describe_failure(exc)
            logger.warning(
                "MLflow registry unreachable (%s): serving the local copy of %s version %s "
                "(saved %s) until it answers",
                self._offline_reason,
                saved.model_name,
                saved.model_version,
                saved.saved_at,
            )
            return Signature(saved.model_version, _LOCAL + self.data_signature())

    def _registry_signature(self) -> Signature:
        version = self.registry.version_by_alias(self.settings.model_name, CHAMPION)
        return Signature(version, self.data_signature())

    @staticmethod
    def _planner_in(model_dir: Path) -> Any:
        return load_planner_file(model_dir)

    def load_planner(self, version: str) -> Any:
        """The `DevelopmentPlanner` of registered version `version` of the model, via the
        local copy (downloaded from the registry when the copy holds another version)."""
        name = self.settings.model_name
        planner = self.copy.load(name, version, self._planner_in)
        if planner is not None:
            return planner

        def fetch(dst: Path) -> None:
            self.registry.download(name, version, dst)

        return self.copy.refresh(name, version, fetch, self._planner_in)

    def load(self, signature: Signature, previous: ServingState | None) -> ServingState:
        from features import columns as c
        from features.build import build_features
        from features.plan_input import employee_view

        local = signature.data_signature.startswith(_LOCAL)
        real_signature = signature.data_signature.removeprefix(_LOCAL)
        if (
            not local
            and previous is not None
            and previous.model_source == FROM_LOCAL_COPY
            and previous.model_version == signature.model_version
            and previous.data_signature == _LOCAL + real_signature
        ):
            logger.info("MLflow registry answers again; version %s is its champion", signature[0])
            self._offline_reason = None
            return replace(
                previous,
                data_signature=real_signature,
                model_source=FROM_REGISTRY,
                source_note=None,
            )
        if previous is not None and previous.model_version == signature.model_version:
            planner = previous.planner  # only the data changed: keep the loaded model
        elif local:
            planner = self.copy.load(
                self.settings.model_name, signature.model_version, self._planner_in
            )
            if planner is None:
                raise RuntimeError("the local copy of the champion changed while loading it")
        else:
            planner = self.load_planner(signature.model_version)
        tables = self.store.tables()
        as_of = latest_date(tables)
        view = employee_view(tables, build_features(tables, as_of))
        state = build_state(
            planner,
            signature.model_version,
            view,
            tables[c.UNITS],
            model_name=self.settings.model_name,
            signature=signature.data_signature,
            plan_cache_size=self.settings.serve.plan_cache_size,
            assignment_cache_size=self.settings.serve.assignment_cache_size,
            prepared_cache_size=self.settings.serve.prepared_path_cache_size,
            jp_budget=self.settings.jp_budget,
            mentor_capacity=self.settings.mentor_capacity,
        )
        self._loaded = True
        if local:
            note = f"MLflow registry unreachable at start-up: {self._offline_reason}"
            return replace(state, model_source=FROM_LOCAL_COPY, source_note=note)
        return state
