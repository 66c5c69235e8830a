"""POST /v1/data on SQLite and a real PostgreSQL: the store, the refusal, plans that follow.

The app here is the real one on a real MLflow registry (a SQLite tracking file) and the
dataset store at `database_url`; the store starts empty and is filled from the world's folder
at start-up, as `make run` does.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pytest
from conftest_serving import RecordingLog, World, leaf_unit, nip_in, serve_ready, serving_world
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from features import columns as c
from features.database import make_engine
from features.dataset_store import DATA_TABLES
from features.settings import Settings
from serving.app import create_app
from serving.db import open_database
from serving.keys import create_key
from serving.loader import MlflowStateSource


@pytest.fixture(name="service")
def service_fixture(database_url: str, tmp_path: Path):
    world = serving_world()
    home = tmp_path / "home"
    settings = Settings(
        home=home,
        data_dir=world.data_dir,
        database_url=database_url,
        model_poll_seconds=0.0,
        data_poll_seconds=0.0,
        pseudonym_key=world.settings.pseudonym_key,
        **{"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"},
    )
    settings.ensure_home()
    remote: World = replace(world, settings=settings)
    remote.promote(remote.register_version())
    with open_database(database_url) as sessions, sessions() as session:
        _, hr = create_key(session, "hr_system", label="ingest")
        _, manager = create_key(session, "manager", [leaf_unit(world)], label="ingest")
    ready = serve_ready(settings)
    app = create_app(ready, MlflowStateSource(ready), RecordingLog())
    with TestClient(app) as client:
        yield client, {"X-API-Key": hr}, {"X-API-Key": manager}, world, database_url


def _counts(url: str) -> dict[str, int]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return {
                n: conn.execute(select(func.count()).select_from(t)).scalar_one()
                for n, t in DATA_TABLES.items()
            }
    finally:
        engine.dispose()


def _planned(client: TestClient, world: World, headers: dict[str, str]) -> tuple[str, dict]:
    """An employee of the manager's unit whose plan has at least one course, and the plan."""
    for nip in world.view.employees[c.NIP].astype(str):
        plan = client.get(f"/v1/employees/{nip}/plan", headers=headers).json()
        if plan.get("training_path"):
            return nip, plan
    raise AssertionError("no employee with a training path")


def test_a_completion_takes_the_course_out_of_the_plan(service):
    client, hr, _, world, url = service
    nip, plan = _planned(client, world, hr)
    first = plan["training_path"][0]["course_id"]
    as_of = date.fromisoformat(plan["as_of"])
    row = {
        "nip": nip,
        "course_id": first,
        "start_date": (as_of - timedelta(days=5)).isoformat(),
        "end_date": as_of.isoformat(),
        "status": "completed",
        "score": 88,
    }
    before = _counts(url)
    sent = client.post("/v1/data/enrollments?wait=true", json=[row], headers=hr)
    assert sent.status_code == 200, sent.text
    body = sent.json()
    assert body["tables"]["enrollments"]["inserted"] == 1 and body["plans"] == "recomputed"
    assert body["employees_affected"] == 1
    assert _counts(url)[c.ENROLLMENTS] == before[c.ENROLLMENTS] + 1
    again = client.get(f"/v1/employees/{nip}/plan", headers=hr).json()
    assert first not in [step["course_id"] for step in again["training_path"]]
    retried = client.post("/v1/data/enrollments?wait=true", json=[row], headers=hr)
    assert retried.status_code == 200 and retried.json()["stored"] == 0
    assert retried.json()["plans"] == "unchanged"
    assert _counts(url)[c.ENROLLMENTS] == before[c.ENROLLMENTS] + 1


def test_an_invalid_batch_is_422_with_rows_and_stores_nothing(service):
    client, hr, manager, world, url = service
    nip = nip_in(world, leaf_unit(world))
    before = _counts(url)
    rows = [
        {
            "nip": nip,
            "course_id": "NO-SUCH-COURSE",
            "start_date": "2024-01-02",
            "status": "ongoing",
        },
        {
            "nip": nip,
            "course_id": "NO-SUCH-COURSE",
            "start_date": "2024-02-30",
            "status": "completed",
            "score": 101,
        },
    ]
    refused = client.post("/v1/data/enrollments", json=rows, headers=hr)
    assert refused.status_code == 422, refused.text
    errors = refused.json()["errors"]
    found = {(e["file"], e["row"], e["column"], e["rule"]) for e in errors}
    assert ("enrollments.json", 1, "course_id", "reference") in found
    assert ("enrollments.json", 2, "start_date", "type") in found
    assert ("enrollments.json", 2, "score", "range") in found
    assert _counts(url) == before
    csv = (
        b"nip,course_id,start_date,end_date,status,score\n"
        + f"{nip},X,2024-01-02,,ongoing,\n".encode()
    )
    upload = client.post(
        "/v1/data/enrollments", files={"file": ("siasn.csv", csv, "text/csv")}, headers=hr
    )
    assert upload.status_code == 422
    assert upload.json()["errors"][0]["file"] == "siasn.csv"
    assert upload.json()["errors"][0]["row"] == 2
    assert client.post("/v1/data/enrollments", json=rows, headers=manager).status_code == 403
    assert client.post("/v1/data/nope", json=rows, headers=hr).status_code == 404
    assert client.post("/v1/data/enrollments", json={"a": 1}, headers=hr).status_code == 400
    assert client.post("/v1/data/enrollments", json=[], headers=hr).status_code == 400
    assert _counts(url) == before


def test_non_json_numbers_and_untyped_bodies_are_refused_before_anything_is_stored(service):
    client, hr, _, world, url = service
    nip = nip_in(world, leaf_unit(world))
    before = _counts(url)
    row = f'[{{"nip": "{nip}", "course_id": "X", "start_date": "2024-01-02", "score": NaN}}]'
    nan = client.post(
        "/v1/data/enrollments", content=row, headers={**hr, "content-type": "application/json"}
    )
    assert nan.status_code == 422
    untyped = client.post("/v1/data/enrollments", content=b"[]", headers=hr)
    assert untyped.status_code == 415 and "application/json" in untyped.json()["detail"]
    broken = client.post(
        "/v1/data/enrollments",
        content=b'[{"nip": "1"',
        headers={**hr, "content-type": "application/json"},
    )
    assert broken.status_code == 400 and "not valid JSON" in broken.json()["detail"]
    assert _counts(url) == before
