"""End to end over real processes: an MLflow tracking server, a trained planner registered
into it over HTTP, `kompeten serve` loading the champion from it, calls with httpx (readiness,
training path, plan, a manager's review), the served predictions reaching the tracking server
through serve's shipper process, then the tracking server is killed.

The service must keep answering with the model version it loaded while the registry is down
(it keeps the state it has; the poll fails and says so in /readyz). Every process runs in its
own process group and is killed at the end, also when the test fails.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from conftest_serving import (
    OLD_DEVELOPMENT_KEY,
    World,
    candidate_signing_keys,
    leaf_unit,
    nip_in,
    nip_outside,
    serving_world,
    source_literals,
)
from mlflow import MlflowClient
from processes import BIN, free_port, wait_for

from features.settings import Settings
from serving.db import open_database
from serving.keys import create_key
from serving.mlflow_client import SERVING_EXPERIMENT
from serving.pages.session import SESSION_COOKIE, sign

pytestmark = pytest.mark.slow


@contextmanager
def _tracking_uri(uri: str) -> Iterator[None]:
    """Point this process's MLflow client at `uri`, and back afterwards."""
    import mlflow

    before = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(before[0])
        mlflow.set_registry_uri(before[1])


def _register_champion(world: World, settings: Settings) -> str:
    """The session's trained planner as version 1 of the model, `champion`, in `settings`'
    registry (the pyfunc `kompeten train` registers, without its evaluation run)."""
    remote = replace(world, settings=settings)
    with _tracking_uri(settings.resolved_tracking_uri):
        version = remote.register_version()
        remote.promote(version)
    return version


def _create_keys(settings: Settings, unit: str) -> tuple[str, str, str]:
    """Raw keys of an HR system and of the unit's manager, and the manager key's public id."""
    with open_database(settings.resolved_database_url) as sessions, sessions() as session:
        _, hr = create_key(session, "hr_system", label="e2e")
        manager_key, manager = create_key(session, "manager", [unit], label="e2e")
    return hr, manager, manager_key.key_id


def _check_hardening(client: httpx.Client, world: World, home: Path, manager: str, key_id: str):
    """On the real process: forged sessions, NaN, unknown courses, out-of-scope mentors."""
    expires = int(time.time()) + 3600
    payload = {"k": key_id, "s": "e2e-session", "c": "csrf", "e": expires}
    secret = (home / "secret.key").read_text().strip()
    literals = source_literals()
    assert secret not in literals
    for key in set().union(*(candidate_signing_keys(s) for s in {OLD_DEVELOPMENT_KEY})):
        forged = client.get(
            "/halaman/unit", cookies={SESSION_COOKIE: sign(payload, key)}, follow_redirects=False
        )
        assert forged.status_code == 303 and "/halaman/masuk" in forged.headers["location"]
    real = Settings(home=home, pseudonym_key=secret).session_signing_key()
    assert real not in set().union(*(candidate_signing_keys(s) for s in literals))
    genuine = client.get(  # the control: the install's own secret does sign a session
        "/halaman/unit", cookies={SESSION_COOKIE: sign(payload, real)}, follow_redirects=False
    )
    assert genuine.status_code == 307 or genuine.status_code == 303
    assert "/halaman/masuk" not in genuine.headers["location"]

    nip = nip_in(world, leaf_unit(world))
    headers = {"X-API-Key": manager, "content-type": "application/json"}
    nan = client.post(
        "/v1/recommendations/training-path",
        content=f'{{"nip": "{nip}", "jp_budget": NaN}}',
        headers=headers,
    )
    assert nan.status_code == 422 and nan.json()["detail"][0]["input"] == "NaN"
    outside = nip_outside(world, leaf_unit(world))
    for n, changes in enumerate(({"add_course_ids": ["NOPE"]}, {"mentor_nip": outside})):
        refused = client.post(
            f"/v1/plans/{nip}/review",
            json={"decision": "changed", "comment": "", "changes": changes},
            headers={"X-API-Key": manager, "Idempotency-Key": f"e2e-refused-{n}"},
        )
        assert refused.status_code == 422, refused.text


def test_service_keeps_serving_its_model_when_mlflow_goes_away(tmp_path, processes):
    mlflow_port, api_port = free_port(), free_port()
    tracking = f"http://127.0.0.1:{mlflow_port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KOMPETEN_", "MLFLOW_"))}
    env["PYTHONUNBUFFERED"] = "1"
    mlflow = processes.start(
        "mlflow",
        [
            str(BIN / "mlflow"),
            "server",
            "--backend-store-uri",
            f"sqlite:///{tmp_path / 'mlflow.db'}",
            "--artifacts-destination",
            str(tmp_path / "mlartifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(mlflow_port),
            "--workers",
            "1",
        ],
        env,
        tmp_path,
    )
    world = serving_world()  # fitted while the tracking server starts (or already, by others)
    home = tmp_path / "home"
    settings = Settings(home=home, data_dir=world.data_dir, **{"MLFLOW_TRACKING_URI": tracking})
    settings.ensure_home()
    health = f"{tracking}/health"
    wait_for("mlflow /health", lambda: httpx.get(health).status_code == 200, 60, mlflow)
    assert _register_champion(world, settings) == "1"
    nip = nip_in(world, leaf_unit(world))
    hr, manager, manager_id = _create_keys(settings, leaf_unit(world))

    serve_env = {
        **env,
        "KOMPETEN_HOME": str(home),
        "KOMPETEN_DATA_DIR": str(world.data_dir),
        "MLFLOW_TRACKING_URI": tracking,
        "OPENBLAS_NUM_THREADS": "1",
        "KOMPETEN_MODEL_POLL_SECONDS": "1",  # keeps asking the registry, also once it is gone
        "KOMPETEN_SERVE_MLFLOW_TIMEOUT_S": "2",
        "KOMPETEN_PREDICTION_FLUSH_SECONDS": "1",
    }
    serve_args = [str(BIN / "kompeten"), "serve", "--port", str(api_port), "--workers", "1"]
    service = processes.start("serve", serve_args, serve_env, tmp_path)
    base = f"http://127.0.0.1:{api_port}"
    with httpx.Client(base_url=base, timeout=10.0) as client:

        def ready() -> bool:
            return client.get("/readyz").status_code == 200

        try:
            wait_for("service /readyz", ready, 60, service)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{processes.tail('serve')}") from None
        readiness = client.get("/readyz").json()
        version = readiness["model_version"]
        assert readiness["status"] == "ready" and version == "1"
        assert readiness["n_employees"] > 0

        as_hr, as_manager = {"X-API-Key": hr}, {"X-API-Key": manager}
        path = client.post("/v1/recommendations/training-path", json={"nip": nip}, headers=as_hr)
        assert path.status_code == 200, path.text
        assert path.json()["nip"] == nip and path.json()["model_version"] == version
        plan = client.get(f"/v1/employees/{nip}/plan", headers=as_manager)
        assert plan.status_code == 200 and plan.json()["model_version"] == version
        review = client.post(
            f"/v1/plans/{nip}/review",
            json={"decision": "approved", "comment": "sesuai kebutuhan unit"},
            headers={**as_manager, "Idempotency-Key": "e2e-review-1"},
        )
        assert review.status_code == 201, review.text
        assert review.json()["model_version"] == version
        reviews = client.get(f"/v1/plans/{nip}/reviews", headers=as_hr).json()
        assert reviews["count"] == 1 and reviews["reviews"][0]["decision"] == "approved"

        # The served predictions reach the tracking server through serve's shipper process.
        tracker = MlflowClient(tracking_uri=tracking)

        def predictions_shipped() -> bool:
            experiment = tracker.get_experiment_by_name(SERVING_EXPERIMENT)
            if experiment is None:
                return False
            runs = tracker.search_runs([experiment.experiment_id])
            history = [
                m.value
                for r in runs
                for m in tracker.get_metric_history(r.info.run_id, "serving_requests")
            ]
            return sum(history) >= 2  # the training path and the plan

        try:
            wait_for("predictions shipped to MLflow", predictions_shipped, 60, service)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{processes.tail('serve')}") from None
        runs = tracker.search_runs(
            [tracker.get_experiment_by_name(SERVING_EXPERIMENT).experiment_id]
        )
        assert {r.data.tags["kompeten.model_version"] for r in runs} == {version}
        assert nip not in str([(r.data.params, r.data.tags, r.data.metrics) for r in runs])

        processes.stop("mlflow")
        with pytest.raises(httpx.HTTPError):
            httpx.get(health, timeout=2.0)

        def poll_failed() -> bool:
            return bool(client.get("/readyz").json().get("last_error"))

        wait_for("a failed poll reported in /readyz", poll_failed, 30, service)
        readiness = client.get("/readyz").json()
        assert readiness["status"] == "ready" and readiness["model_version"] == version
        for body in ({"nip": nip}, {"nip": nip, "jp_budget": 12}):  # precomputed, then planned
            again = client.post("/v1/recommendations/training-path", json=body, headers=as_hr)
            assert again.status_code == 200, again.text
            assert again.json()["model_version"] == version
        plan_again = client.get(f"/v1/employees/{nip}/plan", headers=as_manager)
        assert plan_again.status_code == 200
        # The same plan; reviewed since the first read, on the same data.
        assert plan.json()["data_changed_since_review"] is None
        assert plan_again.json() == {**plan.json(), "data_changed_since_review": False}
        _check_hardening(client, world, home, manager, manager_id)

        # A restart while the registry is still down serves the local copy of the champion.
        processes.stop("serve")
        service = processes.start("serve", serve_args, serve_env, tmp_path)
        try:
            wait_for("restarted service /readyz", ready, 60, service)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{processes.tail('serve')}") from None
        readiness = client.get("/readyz").json()
        assert readiness["model_version"] == version, readiness
        assert readiness["model_source"] == "local_copy" and readiness["model_source_note"]
        restarted = client.get(f"/v1/employees/{nip}/plan", headers=as_manager)
        assert restarted.status_code == 200 and restarted.content == plan_again.content
        assert "local copy" in (tmp_path / "serve.log").read_text()
