""" "Data changed since your review": a review stores the digest of the plan decided on; the
plan GET, the review list and the manager pages flag a plan that has changed since (new data
swapped in with the same model), on SQLite and PostgreSQL; old databases gain the column.
"""

from __future__ import annotations

import functools
import re

import pandas as pd
import pytest
from conftest_serving import (
    RecordingLog,
    StaticSource,
    World,
    leaf_unit,
    serve_ready,
    serving_world,
)
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, inspect, select, text

from features import columns as c
from features.build import build_features
from features.plan_input import employee_view
from serving.app import create_app
from serving.db import PlanReviewRecord, create_schema, open_database, session_factory
from serving.keys import create_key
from serving.services.latest_reviews import LatestReviews
from serving.services.plans import plan_digest
from serving.state import ServingState, build_state, latest_date

FLAG = "data_changed_since_review"


def _nip(world: World) -> str:
    """An employee of the leaf unit whose default plan has a course."""
    state = world.state()
    for nip in state.unit_members(leaf_unit(world)):
        plan = state.cached_plan(nip)
        if plan is not None and plan["training_path"]:
            return nip
    raise AssertionError("no employee with a training path in the leaf unit")


@functools.cache
def changed_state(nip: str) -> ServingState:
    """The world's data plus one completed enrollment of the first course of `nip`'s path, with
    the same planner: what an ingest of new rows gives."""
    world = serving_world()
    first = world.state().cached_plan(nip)["training_path"][0][c.COURSE_ID]
    tables = dict(world.tables)
    as_of = latest_date(tables)
    row = {
        c.NIP: nip,
        c.COURSE_ID: first,
        c.START_DATE: as_of - pd.Timedelta(days=10),
        c.END_DATE: as_of - pd.Timedelta(days=5),
        c.STATUS: "completed",
        "score": 80.0,
    }
    enrollments = tables[c.ENROLLMENTS]
    tables[c.ENROLLMENTS] = pd.concat(
        [enrollments, pd.DataFrame([row]).astype(enrollments.dtypes.to_dict())],
        ignore_index=True,
    )
    assert latest_date(tables) == as_of
    view = employee_view(tables, build_features(tables, as_of))
    return build_state(world.planner, "1", view, tables[c.UNITS], signature="new-data")


class SwappableSource(StaticSource):
    """Serves the world's state, then whatever `next_state` is set to (a data reload)."""

    def __init__(self, world: World) -> None:
        super().__init__(world)
        self.next_state: ServingState | None = None

    def load(self, signature, previous):
        return self.next_state or self.world.state()


@pytest.fixture(name="api")
def api_fixture(database_url: str):
    """An app on its own database of each backend, with an HR and a leaf-manager key."""
    world = serving_world()
    keys = {}
    with open_database(database_url) as sessions, sessions() as session:
        keys["hr"] = create_key(session, "hr_system", label="hr")[1]
        keys["manager"] = create_key(session, "manager", [leaf_unit(world)], label="camat")[1]
    settings = serve_ready(world.settings).model_copy(update={"database_url": database_url})
    source = SwappableSource(world)
    with TestClient(create_app(settings, source, RecordingLog())) as client:
        yield client, source, keys


def _swap(client: TestClient, source: SwappableSource, state: ServingState) -> None:
    source.next_state = state
    assert client.app.state.holder.reload(force=True).status == "loaded"
    assert client.app.state.holder.state is state


def _review(client, keys, nip, request_id, **extra):
    body = {"decision": "approved", "comment": "ok", **extra}
    response = client.post(
        f"/v1/plans/{nip}/review",
        json=body,
        headers={"X-API-Key": keys["manager"], "Idempotency-Key": request_id},
    )
    assert response.status_code == 201, response.text
    return response.json()


def _flags(client, keys, nip):
    headers = {"X-API-Key": keys["hr"]}
    plan = client.get(f"/v1/employees/{nip}/plan", headers=headers)
    history = client.get(f"/v1/plans/{nip}/reviews", headers=headers)
    assert plan.status_code == 200 and history.status_code == 200
    return plan.json()[FLAG], history.json()[FLAG]


def test_plan_digest_is_the_decided_content_only():
    plan = {
        "training_path": [{c.COURSE_ID: "A", "score": 0.3}, {c.COURSE_ID: "B", "score": 0.1}],
        "mentor": {"mentor_nip": "199001012015031001", "reason_id": "x"},
    }
    digest = plan_digest(plan, 40)
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    reworded = {
        "training_path": [{c.COURSE_ID: "A", "score": 0.9}, {c.COURSE_ID: "B"}],
        "mentor": {"mentor_nip": "199001012015031001", "reason_id": "y"},
    }
    assert plan_digest(reworded, 40) == digest
    swapped = {**plan, "training_path": plan["training_path"][::-1]}
    assert plan_digest(swapped, 40) != digest
    assert plan_digest({**plan, "mentor": None}, 40) != digest
    assert plan_digest(plan, 30) != digest


def test_flag_flips_when_new_data_changes_the_reviewed_plan(api):
    client, source, keys = api
    world = serving_world()
    nip = _nip(world)
    assert _flags(client, keys, nip) == (None, None)  # no review yet
    stored = _review(client, keys, nip, "drift-1")
    assert stored["plan_digest"] == plan_digest(world.state().cached_plan(nip), 40)
    assert _flags(client, keys, nip) == (False, False)
    # the same data again (a reload that changes nothing): still not changed
    _swap(client, source, build_state(world.planner, "1", world.view, world.tables[c.UNITS]))
    assert _flags(client, keys, nip) == (False, False)
    new = changed_state(nip)
    before = [s[c.COURSE_ID] for s in world.state().cached_plan(nip)["training_path"]]
    after = [s[c.COURSE_ID] for s in new.cached_plan(nip)["training_path"]]
    assert before[0] not in after  # the completed course left the path
    _swap(client, source, new)
    assert _flags(client, keys, nip) == (True, True)
    # a review of the new plan clears the flag; other employees were never flagged
    _review(client, keys, nip, "drift-2")
    assert _flags(client, keys, nip) == (False, False)
    other = next(n for n in new.unit_members(leaf_unit(world)) if n != nip)
    assert _flags(client, keys, other) == (None, None)


def test_flag_compares_at_the_budget_a_change_set(api):
    client, source, keys = api
    world = serving_world()
    nip = _nip(world)
    _review(client, keys, nip, "budget-1", decision="changed", changes={"jp_budget": 30})
    _review(client, keys, nip, "budget-2")
    history = client.get(f"/v1/plans/{nip}/reviews", headers={"X-API-Key": keys["hr"]}).json()
    at_30 = plan_digest(world.state().plan(nip, 30), 30)
    assert [r["plan_digest"] for r in history["reviews"]] == [at_30, at_30]
    assert _flags(client, keys, nip) == (False, False)
    _swap(client, source, changed_state(nip))
    changed = plan_digest(changed_state(nip).plan(nip, 30), 30) != at_30
    assert _flags(client, keys, nip) == (changed, changed)


def test_old_table_gains_the_column_and_old_rows_read_as_unknown(database_url):
    """An install from before digests: create_schema adds the nullable column in place."""
    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TABLE plan_reviews (id INTEGER PRIMARY KEY, request_id VARCHAR(128) "
                "NOT NULL, key_id VARCHAR(32) NOT NULL, role VARCHAR(20) NOT NULL, nip "
                "VARCHAR(18) NOT NULL, decision VARCHAR(16) NOT NULL, comment TEXT NOT NULL, "
                "changes JSON, model_version VARCHAR(64), created_at TIMESTAMP WITH TIME ZONE, "
                "CONSTRAINT uq_review_request UNIQUE (key_id, request_id))"
            )
        )
        conn.execute(
            text(
                "INSERT INTO plan_reviews (id, request_id, key_id, role, nip, decision, "
                "comment, created_at) VALUES (1, 'old', 'k1', 'manager', '199001012015031001', "
                "'approved', '', '2025-01-02 03:04:05+00:00')"
            )
        )
    try:
        create_schema(engine)
        create_schema(engine)  # a second start (or worker) finds nothing to add
        columns = {col["name"] for col in inspect(engine).get_columns("plan_reviews")}
        assert "plan_digest" in columns
        sessions = session_factory(engine)
        with sessions() as session:
            session.add(
                PlanReviewRecord(
                    id=2,
                    request_id="new",
                    key_id="k1",
                    role="manager",
                    nip="199001012015031001",
                    decision="approved",
                    comment="",
                    plan_digest="a" * 64,
                )
            )
            session.commit()
            digests = session.execute(
                select(PlanReviewRecord.id, PlanReviewRecord.plan_digest).order_by(
                    PlanReviewRecord.id
                )
            ).all()
        assert [tuple(r) for r in digests] == [(1, None), (2, "a" * 64)]
        index = LatestReviews(sessions)
        index.refresh()
        latest = index.get("199001012015031001")
        assert latest is not None and latest.digest == "a" * 64
    finally:
        engine.dispose()


def test_latest_review_index_refreshes_incrementally(database_url):
    with open_database(database_url) as sessions:
        index = LatestReviews(sessions, refresh_seconds=3600)
        assert not index.fresh()
        index.refresh()
        assert index.fresh() and index.get("199001012015031001") is None
        with sessions() as session:
            for i, (decision, changes, digest) in enumerate(
                [("changed", {"jp_budget": 30}, "b" * 64), ("approved", None, None)]
            ):
                session.add(
                    PlanReviewRecord(
                        request_id=f"r{i}",
                        key_id="k",
                        role="manager",
                        nip="199001012015031001",
                        decision=decision,
                        comment="",
                        changes=changes,
                        plan_digest=digest,
                    )
                )
                session.commit()
        assert index.get("199001012015031001") is None  # fresh for an hour: not re-read
        index.expire()
        assert not index.fresh()
        index.refresh()
        latest = index.get("199001012015031001")
        assert latest is not None and latest.digest is None and latest.jp_budget == 30


def _sign_in(client: TestClient, raw_key: str) -> None:
    client.cookies.clear()
    page = client.get("/halaman/masuk")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    response = client.post(
        "/halaman/masuk",
        data={"api_key": raw_key, "csrf_token": token, "next": ""},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text[:300]


def test_pages_show_the_badge_after_new_data(api):
    client, source, keys = api
    world = serving_world()
    nip = _nip(world)
    _review(client, keys, nip, "page-1")
    _sign_in(client, keys["manager"])
    unit_path = f"/halaman/unit/{leaf_unit(world)}"
    page = client.get(f"/halaman/pegawai/{nip}")
    assert page.status_code == 200 and 'id="data-changed"' not in page.text
    assert "data-changed" not in client.get(unit_path).text
    _swap(client, source, changed_state(nip))
    page = client.get(f"/halaman/pegawai/{nip}")
    assert 'id="data-changed"' in page.text
    assert "Data berubah sejak tinjauan Anda" in page.text
    unit = client.get(unit_path).text
    row = re.search(rf'<tr class="member" data-nip="{nip}".*?</tr>', unit, re.S)
    assert row is not None and "Data berubah sejak tinjauan Anda" in row.group(0)
    assert unit.count("badge warn data-changed") == 1
    client.get(f"/halaman/bahasa?lang=en&next=/halaman/pegawai/{nip}", follow_redirects=False)
    english = client.get(f"/halaman/pegawai/{nip}")
    assert "Data changed since your review" in english.text
