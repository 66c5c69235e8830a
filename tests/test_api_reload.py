"""Model loading and hot reload: from the MLflow registry, by poll and on request, atomically."""

from __future__ import annotations

import time

import mlflow.pyfunc
import pytest
from conftest_serving import (
    RecordingLog,
    StaticSource,
    auth,
    leaf_unit,
    nip_in,
    serve_ready,
    serving_world,
)
from fastapi.testclient import TestClient

from model.bundle import PLANNER_FILE
from serving.app import create_app
from serving.loader import MlflowStateSource
from serving.state_holder import StateHolder


def _wait_for(predicate, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_readyz_503_until_a_model_loads_then_serves():
    world = serving_world()
    source = StaticSource(world)
    source.fail = "MLflow unreachable"
    app = create_app(serve_ready(world.settings), source, RecordingLog())
    with TestClient(app) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["status"] == "not_ready"
        assert "unreachable" in ready.json()["last_error"]
        assert client.get("/healthz").status_code == 200
        nip = nip_in(world, leaf_unit(world))
        plan = client.get(f"/v1/employees/{nip}/plan", headers=auth(world, "hr"))
        assert plan.status_code == 503 and plan.headers["Retry-After"]
        source.fail = None
        response = client.post("/v1/admin/reload", headers=auth(world, "analyst"))
        assert response.status_code == 200 and response.json()["status"] == "loaded"
        assert client.get("/readyz").status_code == 200
        assert client.get(f"/v1/employees/{nip}/plan", headers=auth(world, "hr")).status_code == 200


def test_failed_reload_keeps_serving_the_old_state():
    world = serving_world()
    source = StaticSource(world)
    app = create_app(serve_ready(world.settings), source, RecordingLog())
    with TestClient(app) as client:
        source.version, source.fail = "2", "connection refused to 198503122010011001"
        response = client.post("/v1/admin/reload", headers=auth(world, "analyst"))
        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "failed" and body["model_version"] == "1"
        assert "connection refused" in body["reason"] and "198503122010011001" not in body["reason"]
        nip = nip_in(world, leaf_unit(world))
        plan = client.get(f"/v1/employees/{nip}/plan", headers=auth(world, "hr"))
        assert plan.status_code == 200 and plan.json()["model_version"] == "1"
        source.fail = None
        again = client.post("/v1/admin/reload", headers=auth(world, "analyst")).json()
        assert again["status"] == "loaded" and again["previous_model_version"] == "1"
        plan = client.get(f"/v1/employees/{nip}/plan", headers=auth(world, "hr"))
        assert plan.json()["model_version"] == "2"


def test_reload_behind_a_running_one_gives_up_after_its_timeout():
    world = serving_world()
    holder = StateHolder(StaticSource(world))
    assert holder._lock.acquire()
    try:
        outcome = holder.reload(timeout=0.05)
    finally:
        holder._lock.release()
    assert outcome.status == "busy"


def test_mlflow_champion_loads_and_a_promoted_version_swaps_in():
    """The real loader: champion from a SQLite MLflow; promotion picked up by the poll and by
    POST /v1/admin/reload, without a restart."""
    world = serving_world()
    first = world.register_version()
    world.promote(first)
    polling = world.settings.model_copy(update={"model_poll_seconds": 0.3})
    app = create_app(serve_ready(polling), prediction_log=RecordingLog())
    nip = nip_in(world, leaf_unit(world))
    headers = auth(world, "hr")
    with TestClient(app) as client:
        ready = client.get("/readyz").json()
        assert ready["status"] == "ready" and ready["model_version"] == first
        plan = client.post("/v1/recommendations/training-path", json={"nip": nip}, headers=headers)
        assert plan.json()["model_version"] == first

        second = world.register_version()
        world.promote(second)
        assert _wait_for(lambda: client.get("/readyz").json()["model_version"] == second)
        plan = client.get(f"/v1/employees/{nip}/plan", headers=headers)
        assert plan.status_code == 200 and plan.json()["model_version"] == second

        world.promote(first)  # roll back, this time on request
        reloaded = client.post("/v1/admin/reload", headers=auth(world, "analyst")).json()
        # "unchanged" when the poll swapped first (the request waits for a running reload)
        assert reloaded["status"] in ("loaded", "unchanged")
        assert reloaded["model_version"] == first
        assert client.get("/readyz").json()["model_version"] == first
        metrics = client.get("/metrics").text
        assert f'version="{first}"' in metrics


def test_loader_explains_a_missing_champion():
    world = serving_world()
    settings = world.settings.model_copy(update={"model_name": "not-registered"})
    source = MlflowStateSource(serve_ready(settings))
    with pytest.raises(LookupError, match="kompeten train"):
        source.signature()


def test_restart_with_the_registry_down_serves_the_local_copy(tmp_path, monkeypatch):
    """A champion once served is kept locally: a restart with MLflow unreachable serves it,
    /readyz says so, and the registry's answer later makes it the registry's again."""
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    world = serving_world()
    version = world.register_version()
    world.promote(version)
    keys = world.settings.resolved_database_url
    online = world.settings.model_copy(update={"home": tmp_path, "database_url": keys})
    nip = nip_in(world, leaf_unit(world))
    headers = auth(world, "hr")
    with TestClient(create_app(serve_ready(online), prediction_log=RecordingLog())) as c:
        ready = c.get("/readyz").json()
        assert ready["model_version"] == version and ready["model_source"] == "registry"
        served = c.get(f"/v1/employees/{nip}/plan", headers=headers).json()
    assert (tmp_path / "champion" / "champion.json").is_file()

    offline = online.model_copy(update={"mlflow_tracking_uri": "http://127.0.0.1:9"})
    source = MlflowStateSource(serve_ready(offline))
    with TestClient(create_app(serve_ready(offline), source, RecordingLog())) as client:
        ready = client.get("/readyz").json()
        assert ready["status"] == "ready", ready
        assert ready["model_version"] == version and ready["model_source"] == "local_copy"
        assert "unreachable" in ready["model_source_note"]
        plan = client.get(f"/v1/employees/{nip}/plan", headers=headers)
        assert plan.status_code == 200 and plan.json() == served
        # the registry answers again (same champion): the state says so, nothing is reloaded
        source.settings = online
        assert client.post("/v1/admin/reload", headers=auth(world, "analyst")).status_code == 200
        ready = client.get("/readyz").json()
        assert ready["model_source"] == "registry" and ready["model_version"] == version


def test_without_a_local_copy_the_registry_outage_stays_not_ready(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    world = serving_world()
    offline = world.settings.model_copy(
        update={"home": tmp_path, "mlflow_tracking_uri": "http://127.0.0.1:9"}
    )
    with TestClient(create_app(serve_ready(offline), prediction_log=RecordingLog())) as c:
        ready = c.get("/readyz")
        assert ready.status_code == 503 and ready.json()["last_error"]


class _RefusesToRun(mlflow.pyfunc.PythonModel):
    """A pyfunc whose code fails if anyone runs it: serving must only read the planner file."""

    def load_context(self, context):  # noqa: ANN001
        raise AssertionError("serving ran the registered pyfunc's code")

    def predict(self, context, model_input, params=None):  # noqa: ANN001
        raise AssertionError("serving ran the registered pyfunc's code")


def test_serving_reads_the_planner_file_and_never_runs_the_pyfunc(tmp_path):
    """The training side's pyfunc code never runs in the service (`model.bundle` joblib only)."""
    world = serving_world()
    from mlflow import MlflowClient

    client = MlflowClient(world.settings.resolved_tracking_uri)
    try:
        before = client.get_model_version_by_alias(world.model_name, "champion").version
    except Exception:
        before = None
    version = world.register_version(python_model=_RefusesToRun())
    world.promote(version)
    try:
        source = MlflowStateSource(
            serve_ready(world.settings.model_copy(update={"home": tmp_path}))
        )
        state = source.load(source.signature(), None)
        assert state.model_version == version and state.n_employees > 0
        assert (tmp_path / "champion" / "model" / "artifacts" / PLANNER_FILE).is_file()
    finally:
        if before is not None:
            world.promote(str(before))
