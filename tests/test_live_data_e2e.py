"""Plans follow live data, on real processes: `kompeten serve` with two workers on one store
(a SQLite file, then a real PostgreSQL server), an HR system ingesting a completion over real
HTTP, and every worker's plan without that course within 5 s.

The worker that takes the ingest recomputes at once; the other notices the store's new revision
by its poll (KOMPETEN_DATA_POLL_SECONDS). Requests are spread over both workers by the kernel,
so the check asks several times in a row.
"""

from __future__ import annotations

import os
import time
from dataclasses import replace
from datetime import date, timedelta

import httpx
import pytest
from conftest_serving import leaf_unit, nip_in, serving_world
from processes import BIN, free_port, wait_for

from features import columns as c
from features.settings import Settings
from serving.db import open_database
from serving.keys import create_key

pytestmark = pytest.mark.slow

FOLLOW_WITHIN_S = 5.0


def _plan_courses(client: httpx.Client, nip: str, headers: dict[str, str]) -> list[str]:
    plan = client.get(f"/v1/employees/{nip}/plan", headers=headers)
    assert plan.status_code == 200, plan.text
    return [step["course_id"] for step in plan.json()["training_path"]]


def test_two_workers_follow_an_ingested_completion(database_url, tmp_path, processes):
    world = serving_world()
    home = tmp_path / "home"
    tracking = f"sqlite:///{tmp_path / 'mlflow.db'}"
    settings = Settings(
        home=home,
        database_url=database_url,
        pseudonym_key=world.settings.pseudonym_key,
        **{"MLFLOW_TRACKING_URI": tracking},
    )
    settings.ensure_home()
    remote = replace(world, settings=settings)
    remote.promote(remote.register_version())
    with open_database(database_url) as sessions, sessions() as session:
        _, hr = create_key(session, "hr_system", label="live-data-e2e")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KOMPETEN_", "MLFLOW_"))}
    env.update(
        PYTHONUNBUFFERED="1",
        OPENBLAS_NUM_THREADS="1",
        KOMPETEN_HOME=str(home),
        KOMPETEN_PSEUDONYM_KEY=world.settings.pseudonym_key,
        KOMPETEN_DATA_DIR=str(world.data_dir),  # the store starts empty: filled from here
        KOMPETEN_DATABASE_URL=database_url,
        KOMPETEN_DATA_POLL_SECONDS="0.5",
        KOMPETEN_MODEL_POLL_SECONDS="0",
        MLFLOW_TRACKING_URI=tracking,
    )
    port = free_port()
    serve = processes.start(
        "serve",
        [str(BIN / "kompeten"), "serve", "--port", str(port), "--workers", "2"],
        env,
        tmp_path,
    )
    headers = {"X-API-Key": hr}
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30.0) as client:

        def both_ready() -> bool:
            return all(client.get("/readyz").status_code == 200 for _ in range(6))

        try:
            wait_for("both workers ready", both_ready, 120, serve)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{processes.tail('serve')}") from None
        nip = nip_in(world, leaf_unit(world))
        for candidate in world.view.employees[c.NIP].astype(str):
            if _plan_courses(client, candidate, headers):
                nip = candidate
                break
        courses = _plan_courses(client, nip, headers)
        assert courses, "no employee with a training path"
        as_of = date.fromisoformat(
            client.get(f"/v1/employees/{nip}/plan", headers=headers).json()["as_of"]
        )
        completion = {
            "nip": nip,
            "course_id": courses[0],
            "start_date": (as_of - timedelta(days=3)).isoformat(),
            "end_date": as_of.isoformat(),
            "status": "completed",
            "score": 90,
        }
        sent_at = time.monotonic()
        sent = client.post("/v1/data/enrollments", json=[completion], headers=headers)
        assert sent.status_code == 200, sent.text
        assert sent.json()["tables"]["enrollments"]["inserted"] == 1

        in_a_row = 0
        while in_a_row < 8:  # eight answers in a row, from either worker, without the course
            elapsed = time.monotonic() - sent_at
            assert elapsed <= FOLLOW_WITHIN_S, (
                f"plans still list {courses[0]} {elapsed:.1f} s after the ingest\n"
                + processes.tail("serve")
            )
            in_a_row = in_a_row + 1 if courses[0] not in _plan_courses(client, nip, headers) else 0
            time.sleep(0.05)
        print(f"plans followed the ingest in {time.monotonic() - sent_at:.2f} s")
        assert serve.poll() is None
