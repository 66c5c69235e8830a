"""Plan reviews: stored durably with who and when, once per request id, managers only."""

from __future__ import annotations

import dataclasses
import uuid

import pandas as pd
from conftest_serving import (
    RecordingLog,
    StaticSource,
    auth,
    client_fixture,  # noqa: F401
    leaf_unit,
    nip_in,
    nip_outside,
    predictions_fixture,  # noqa: F401
    serving_settings,
    world_fixture,  # noqa: F401
)
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from features import columns as c
from serving.app import create_app
from serving.db import PlanReviewRecord, open_database
from serving.state import build_state


def _review_url(nip: str) -> str:
    return f"/v1/plans/{nip}/review"


def _rows(world, request_id: str) -> int:
    with open_database(world.settings.resolved_database_url) as sessions, sessions() as session:
        return session.scalar(select(func.count()).where(PlanReviewRecord.request_id == request_id))


def _unreviewed_nip(world, index: int) -> str:
    emp = world.view.employees
    return str(emp.loc[emp[c.UNIT_ID] == leaf_unit(world), c.NIP].iloc[index])


def test_review_is_stored_once_per_idempotency_key(client, world):
    nip = _unreviewed_nip(world, 0)
    request_id = f"review-{uuid.uuid4()}"
    headers = {**auth(world, "manager_leaf"), "Idempotency-Key": request_id}
    body = {"decision": "approved", "comment": "Sesuai kebutuhan unit."}
    first = client.post(_review_url(nip), json=body, headers=headers)
    assert first.status_code == 201
    stored = first.json()
    assert stored["nip"] == nip and stored["decision"] == "approved"
    assert stored["reviewer_role"] == "manager" and stored["model_version"] == "1"
    assert stored["request_id"] == request_id and stored["created_at"].endswith("Z")
    again = client.post(_review_url(nip), json=body, headers=headers)
    assert again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == stored
    assert _rows(world, request_id) == 1
    other = client.post(_review_url(nip), json={**body, "decision": "rejected"}, headers=headers)
    assert other.status_code == 409
    assert _rows(world, request_id) == 1


def test_request_id_field_and_history(client, world):
    nip = _unreviewed_nip(world, 1)
    key = auth(world, "manager_leaf")
    first_id, second_id = f"a-{uuid.uuid4()}", f"b-{uuid.uuid4()}"
    changed = {
        "decision": "changed",
        "comment": "Ganti ke kursus daring.",
        "changes": {"remove_course_ids": ["PLT-0001"], "jp_budget": 30},
        "request_id": first_id,
    }
    assert client.post(_review_url(nip), json=changed, headers=key).status_code == 201
    approved = {"decision": "approved", "comment": "", "request_id": second_id}
    assert client.post(_review_url(nip), json=approved, headers=key).status_code == 201
    history = client.get(f"/v1/plans/{nip}/reviews", headers=auth(world, "hr"))
    assert history.status_code == 200
    body = history.json()
    assert body["count"] == 2
    assert [r["request_id"] for r in body["reviews"]] == [first_id, second_id]
    assert body["reviews"][0]["changes"]["jp_budget"] == 30
    assert body["reviews"][0]["changes"]["remove_course_ids"] == ["PLT-0001"]


def test_review_validation(client, world):
    nip = _unreviewed_nip(world, 2)
    key = auth(world, "manager_leaf")
    missing_id = client.post(
        _review_url(nip), json={"decision": "approved", "comment": "ok"}, headers=key
    )
    assert missing_id.status_code == 422
    assert "Idempotency-Key" in missing_id.text
    with_id = {**key, "Idempotency-Key": f"x-{uuid.uuid4()}"}
    no_changes = client.post(
        _review_url(nip), json={"decision": "changed", "comment": "x"}, headers=with_id
    )
    assert no_changes.status_code == 422 and "changes" in no_changes.text
    stray_changes = client.post(
        _review_url(nip),
        json={"decision": "approved", "comment": "x", "changes": {"jp_budget": 10}},
        headers=with_id,
    )
    assert stray_changes.status_code == 422
    bad_decision = client.post(
        _review_url(nip), json={"decision": "maybe", "comment": "x"}, headers=with_id
    )
    assert bad_decision.status_code == 422
    assert any(e["loc"][-1] == "decision" for e in bad_decision.json()["detail"])
    mismatch = client.post(
        _review_url(nip),
        json={"decision": "approved", "comment": "x", "request_id": "other"},
        headers=with_id,
    )
    assert mismatch.status_code == 422
    assert (
        client.post(
            _review_url("123"), json={"decision": "approved", "comment": "x"}, headers=with_id
        ).status_code
        == 422
    )


def test_review_access(client, world):
    leaf = leaf_unit(world)
    inside, outside = nip_in(world, leaf), nip_outside(world, leaf)
    body = {"decision": "approved", "comment": "ok"}

    def post(nip: str, who: str):
        headers = {**auth(world, who), "Idempotency-Key": f"acc-{uuid.uuid4()}"}
        return client.post(_review_url(nip), json=body, headers=headers)

    assert post(inside, "hr").status_code == 403  # HR systems read; managers decide
    assert post(inside, "analyst").status_code == 403
    assert post(outside, "manager_leaf").status_code == 403
    assert post("199001012015011999", "manager_root").status_code == 404
    assert client.post(_review_url(inside), json=body).status_code == 401
    assert (
        client.get(f"/v1/plans/{outside}/reviews", headers=auth(world, "manager_leaf")).status_code
        == 403
    )
    assert (
        client.get(f"/v1/plans/{inside}/reviews", headers=auth(world, "manager_leaf")).status_code
        == 200
    )
    unknown = client.get("/v1/plans/199001012015011999/reviews", headers=auth(world, "hr"))
    assert unknown.status_code == 404


def test_reviews_survive_a_restart(world):
    """A new app on the same database sees the reviews the previous one stored."""
    nip = _unreviewed_nip(world, 3)
    request_id = f"restart-{uuid.uuid4()}"
    headers = {**auth(world, "manager_leaf"), "Idempotency-Key": request_id}
    body = {"decision": "rejected", "comment": "Anggaran tahun ini habis."}
    for expected in (201, 200):
        app = create_app(world.settings, serving_settings(), StaticSource(world), RecordingLog())
        with TestClient(app) as fresh:
            assert fresh.post(_review_url(nip), json=body, headers=headers).status_code == expected
    assert _rows(world, request_id) == 1


class _AttendingSource(StaticSource):
    """The world's state with one employee attending (ongoing) a course's prerequisite."""

    def __init__(self, world, view) -> None:
        super().__init__(world)
        self.view = view

    def load(self, signature, previous):
        self.loads += 1
        w = self.world
        return build_state(w.planner, "1", self.view, w.tables[c.UNITS], signature="static")


def test_an_added_course_needs_its_prerequisite_completed_not_ongoing(world):
    catalog = world.planner.catalog
    course, prerequisite = next(
        (catalog.course_ids[i], catalog.course_ids[pre[0]])
        for i, pre in enumerate(catalog.prerequisites)
        if len(pre) == 1 and catalog.active[i]
    )
    view = world.view
    done = view.completed
    nip = next(
        n
        for n in view.employees.loc[view.employees[c.UNIT_ID] == leaf_unit(world), c.NIP]
        if not ((done[c.NIP] == n) & done[c.COURSE_ID].isin([course, prerequisite])).any()
    )
    attending = pd.concat(
        [view.ongoing, pd.DataFrame({c.NIP: [nip], c.COURSE_ID: [prerequisite]})],
        ignore_index=True,
    )
    source = _AttendingSource(world, dataclasses.replace(view, ongoing=attending))
    app = create_app(world.settings, serving_settings(), source, RecordingLog())
    body = {"decision": "changed", "comment": "", "changes": {"add_course_ids": [course]}}
    with TestClient(app) as client:
        headers = {**auth(world, "manager_leaf"), "Idempotency-Key": f"pre-{uuid.uuid4()}"}
        refused = client.post(_review_url(nip), json=body, headers=headers)
        assert refused.status_code == 422, refused.text
        (error,) = refused.json()["detail"]
        assert error["loc"][-1] == "add_course_ids" and error["input"] == course
        assert prerequisite in error["msg"] and "ongoing" in error["msg"]
        assert _rows(world, headers["Idempotency-Key"]) == 0
    # Without the ongoing row the prerequisite may join the plan, and the course after it.
    with TestClient(create_app(world.settings, serving_settings(), StaticSource(world))) as client:
        headers = {**auth(world, "manager_leaf"), "Idempotency-Key": f"pre-{uuid.uuid4()}"}
        both = {**body, "changes": {"add_course_ids": [prerequisite, course]}}
        assert client.post(_review_url(nip), json=both, headers=headers).status_code == 201
