"""Shared world of the API tests: demo data, a small trained planner, a temporary MLflow.

Built once per test session (`serving_world()` is cached) because training and registering
cost seconds; every API test file imports its fixtures from here. Nothing touches the user's
MLflow or `var/`: tracking, the review database and the prediction outbox live in a temp dir.
"""

from __future__ import annotations

import ast
import atexit
import functools
import hashlib
import hmac
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from features import columns as c
from features.build import build_features
from features.io import load_dataset
from features.plan_input import EmployeeView, employee_view
from features.settings import ServeSettings, Settings
from serving.app import create_app
from serving.db import open_database
from serving.keys import create_key, revoke_key
from serving.state import ServingState, build_state, latest_date
from serving.state_holder import Signature

N_EMPLOYEES = 150
#: The constant every development install once shared (kept here to prove it is refused).
OLD_DEVELOPMENT_KEY = "kompeten-development-key-not-for-production"


def source_literals() -> set[str]:
    """Every string constant in the shipped packages that could serve as a key."""
    root = Path(__file__).resolve().parent.parent
    out: set[str] = set()
    for package in ("features", "model", "serving", "training_pipeline"):
        for path in (root / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    out.add(node.value)
    return out


def candidate_signing_keys(secret: str) -> set[bytes]:
    """The session keys `secret` gives, as pseudonym key or as the pages' own secret."""
    derived = hmac.new(secret.encode(), b"kompeten-pages-session", hashlib.sha256).digest()
    return {derived, hashlib.sha256(secret.encode()).digest()}


class RecordingLog:
    """Stands in for `serving.prediction_log.PredictionLog`: keeps what was recorded."""

    def __init__(self) -> None:
        self.records: list[tuple[Any, ...]] = []
        self.started = self.stopped = False

    def start(self) -> RecordingLog:
        self.started = True
        return self

    def stop(self) -> None:
        self.stopped = True

    def record(self, *args: Any) -> None:
        self.records.append(args)

    def stats(self) -> dict[str, float]:
        return {"written": float(len(self.records))}


@dataclass
class World:
    root: Path
    data_dir: Path
    settings: Settings
    tables: dict[str, pd.DataFrame]
    planner: Any
    view: EmployeeView
    keys: dict[str, str] = field(default_factory=dict)
    _state: ServingState | None = None

    def state(self) -> ServingState:
        """One prebuilt state shared by the tests that do not exercise loading."""
        if self._state is None:
            self._state = build_state(
                self.planner, "1", self.view, self.tables[c.UNITS], signature="static"
            )
        return self._state

    def register_version(self, python_model: Any = None) -> str:
        """Log the planner as a new version of the registered model; returns its number.

        The same pyfunc and artifact layout as `training_pipeline.train` registers, without
        its evaluation and gate (seconds per version instead of a full training run).
        `python_model` replaces the planner's pyfunc (serving never runs it).
        """
        import mlflow
        import mlflow.pyfunc

        from model.bundle import PLANNER_ARTIFACT, save_planner
        from training_pipeline.registration import PLANNER_MODEL_CODE

        uri = self.settings.resolved_tracking_uri
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)
        path = self.root / "planner.joblib"
        if not path.exists():
            save_planner(self.planner, self.root)
        experiment = mlflow.set_experiment("serving-tests")
        with mlflow.start_run(experiment_id=experiment.experiment_id) as run:
            mlflow.pyfunc.log_model(
                name="planner",
                python_model=python_model or str(PLANNER_MODEL_CODE),
                artifacts={PLANNER_ARTIFACT: str(path)},
                pip_requirements=[],
            )
        version = mlflow.register_model(f"runs:/{run.info.run_id}/planner", self.model_name)
        return str(version.version)

    def promote(self, version: str) -> None:
        from mlflow import MlflowClient

        client = MlflowClient(self.settings.resolved_tracking_uri)
        client.set_registered_model_alias(self.model_name, "champion", version)

    @property
    def model_name(self) -> str:
        return self.settings.model_name


def _fit_planner(data_dir: Path, tables: dict[str, pd.DataFrame]) -> Any:
    """The training pipeline's planner (recommender, risk model, mentor scorer), kept small."""
    from training_pipeline.fitting import fit_planner
    from training_pipeline.run_config import TrainConfig

    config = TrainConfig(data_dir=data_dir, n_candidates=20)
    return fit_planner(tables, latest_date(tables), config)


@functools.cache
def serving_world() -> World:
    """Demo data, a trained planner and an API key per role, once per session."""
    from demo_data import write_demo

    root = Path(tempfile.mkdtemp(prefix="kompeten-serving-tests-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    data_dir = root / "data"
    write_demo(data_dir, n_employees=N_EMPLOYEES, seed=7, years=3)
    tables = load_dataset(data_dir)
    view = employee_view(tables, build_features(tables, latest_date(tables)))
    home = root / "home"
    settings = Settings(
        home=home,
        data_dir=data_dir,
        model_poll_seconds=0.0,  # tests that poll ask for it
        **{"MLFLOW_TRACKING_URI": f"sqlite:///{home / 'mlflow.db'}"},
    )
    settings.ensure_home()
    world = World(root, data_dir, settings, tables, _fit_planner(data_dir, tables), view)
    with open_database(settings.resolved_database_url) as sessions, sessions() as session:
        for name, role, scope in (
            ("hr", "hr_system", ()),
            ("analyst", "analyst", ()),
            ("manager_root", "manager", (parent_unit(world),)),
            ("manager_leaf", "manager", (leaf_unit(world),)),
            ("revoked", "hr_system", ()),
        ):
            key, raw = create_key(session, role, scope, label=name)
            world.keys[name] = raw
            if name == "revoked":
                revoke_key(session, key.key_id)
    return world


def leaf_unit(world: World) -> str:
    """The unit without sub-units that has the most active employees."""
    units = world.tables[c.UNITS]
    parents = set(units[c.PARENT_UNIT_ID].dropna().astype(str))
    counts = world.view.employees[c.UNIT_ID].astype(str).value_counts()
    return next(u for u in counts.index if u not in parents)


def parent_unit(world: World) -> str:
    """The parent of `leaf_unit`: a unit with sub-units (and usually staff of its own)."""
    units = world.tables[c.UNITS].set_index(c.UNIT_ID)
    return str(units.loc[leaf_unit(world), c.PARENT_UNIT_ID])


def nip_in(world: World, unit: str) -> str:
    emp = world.view.employees
    return str(emp.loc[emp[c.UNIT_ID] == unit, c.NIP].iloc[0])


def nip_outside(world: World, unit: str) -> str:
    emp = world.view.employees
    return str(emp.loc[emp[c.UNIT_ID] != unit, c.NIP].iloc[0])


class StaticSource:
    """A `StateSource` handing out prebuilt states (fails on demand, to test reloads)."""

    def __init__(self, world: World, version: str = "1") -> None:
        self.world = world
        self.version = version
        self.fail: str | None = None
        self.loads = 0

    def signature(self) -> Signature:
        if self.fail:
            raise ConnectionError(self.fail)
        return Signature(self.version, "static")

    def load(self, signature: Signature, previous: ServingState | None) -> ServingState:
        self.loads += 1
        if signature.model_version == "1":
            return self.world.state()
        w = self.world
        return build_state(
            w.planner, signature.model_version, w.view, w.tables[c.UNITS], signature="static"
        )


def serve_ready(settings: Settings, **overrides: Any) -> Settings:
    """`settings` whose start-up waits for the first load, so a test starts with the state in
    place (`overrides`: other `Settings.serve` fields)."""
    values: dict[str, Any] = {"startup_wait_s": 120.0, **overrides}
    return settings.model_copy(update={"serve": ServeSettings(**values)})


# Fixtures are registered under short names (`world`, `predictions`, `client`); test modules
# import the `*_fixture` functions, so the parameter names do not shadow imports.


@pytest.fixture(scope="module", name="world")
def world_fixture() -> World:
    return serving_world()


@pytest.fixture(scope="module", name="predictions")
def predictions_fixture() -> RecordingLog:
    return RecordingLog()


@pytest.fixture(scope="module", name="client")
def client_fixture(world: World, predictions: RecordingLog) -> Iterator[TestClient]:
    """An app serving the prebuilt state (no MLflow), shared by a test module."""
    app = create_app(serve_ready(world.settings), StaticSource(world), predictions)
    with TestClient(app) as test_client:
        yield test_client


def auth(world: World, name: str) -> dict[str, str]:
    return {"X-API-Key": world.keys[name]}
