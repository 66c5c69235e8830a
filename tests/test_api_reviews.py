"""Plan reviews: stored durably with who and when, once per request id, managers only."""

from __future__ import annotations

import dataclasses
import threading
import uuid
from dataclasses import dataclass

import pandas as pd
import pytest
from conftest import BACKENDS, database_url_for
from conftest_serving import (
    RecordingLog,
    StaticSource,
    auth,
    client_fixture,  # noqa: F401
    leaf_unit,
    nip_in,
    nip_outside,
    parent_unit,
    predictions_fixture,  # noqa: F401
    serve_ready,
    serving_world,
    world_fixture,  # noqa: F401
)
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from features import columns as c
from model.mentor_pairing import mentor_refusal, rank_mentors
from serving.app import create_app
from serving.db import PlanReviewRecord, open_database
from serving.keys import create_key
from serving.state import build_state


def _review_url(nip: str) -> str:
    return f"/v1/plans/{nip}/review"


def _rows(world, request_id: str) -> int:
    return _count(world.settings.resolved_database_url, request_id)


def _count(url: str, request_id: str) -> int:
    with open_database(url) as sessions, sessions() as session:
        return session.scalar(select(func.count()).where(PlanReviewRecord.request_id == request_id))


@dataclass
class Store:
    """An app on its own database of one backend, with the keys the storage tests use."""

    url: str
    settings: object
    client: TestClient
    keys: dict[str, str]

    def auth(self, name: str) -> dict[str, str]:
        return {"X-API-Key": self.keys[name]}


@pytest.fixture(scope="module", params=BACKENDS, name="store")
def store_fixture(request, tmp_path_factory):
    """The review-storage tests once per backend; the app is cheap (the state is prebuilt)."""
    world = serving_world()
    url = database_url_for(request.param, tmp_path_factory.mktemp("reviews"), request)
    keys = {}
    with open_database(url) as sessions, sessions() as session:
        keys["hr"] = create_key(session, "hr_system", label="hr")[1]
        keys["manager_leaf"] = create_key(session, "manager", [leaf_unit(world)])[1]
    settings = serve_ready(world.settings).model_copy(update={"database_url": url})
    with TestClient(create_app(settings, StaticSource(world), RecordingLog())) as client:
        yield Store(url, settings, client, keys)


def _unreviewed_nip(world, index: int) -> str:
    emp = world.view.employees
    return str(emp.loc[emp[c.UNIT_ID] == leaf_unit(world), c.NIP].iloc[index])


def test_review_is_stored_once_per_idempotency_key(store, world):
    client = store.client
    nip = _unreviewed_nip(world, 0)
    request_id = f"review-{uuid.uuid4()}"
    headers = {**store.auth("manager_leaf"), "Idempotency-Key": request_id}
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
    assert _count(store.url, request_id) == 1
    other = client.post(_review_url(nip), json={**body, "decision": "rejected"}, headers=headers)
    assert other.status_code == 409
    assert _count(store.url, request_id) == 1


def test_concurrent_retries_store_one_review(store, world):
    """The same request id from several threads at once: one row, the others replay it."""
    nip = _unreviewed_nip(world, 2)
    request_id = f"race-{uuid.uuid4()}"
    headers = {**store.auth("manager_leaf"), "Idempotency-Key": request_id}
    body = {"decision": "approved", "comment": "Serentak."}
    statuses: list[int] = []
    barrier = threading.Barrier(4)

    def post() -> None:
        barrier.wait()
        statuses.append(store.client.post(_review_url(nip), json=body, headers=headers).status_code)

    threads = [threading.Thread(target=post) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 200, 200, 201]
    assert _count(store.url, request_id) == 1


def test_request_id_field_and_history(store, world):
    client = store.client
    nip = _unreviewed_nip(world, 1)
    key = store.auth("manager_leaf")
    first_id, second_id = f"a-{uuid.uuid4()}", f"b-{uuid.uuid4()}"
    last = world.state().plan(nip, 30)["training_path"][-1]["course_id"]
    changed = {
        "decision": "changed",
        "comment": "Ganti ke kursus daring.",
        "changes": {"remove_course_ids": [last], "jp_budget": 30},
        "request_id": first_id,
    }
    assert client.post(_review_url(nip), json=changed, headers=key).status_code == 201
    approved = {"decision": "approved", "comment": "", "request_id": second_id}
    assert client.post(_review_url(nip), json=approved, headers=key).status_code == 201
    history = client.get(f"/v1/plans/{nip}/reviews", headers=store.auth("hr"))
    assert history.status_code == 200
    body = history.json()
    assert body["count"] == 2
    assert [r["request_id"] for r in body["reviews"]] == [first_id, second_id]
    assert body["reviews"][0]["changes"]["jp_budget"] == 30
    assert body["reviews"][0]["changes"]["remove_course_ids"] == [last]


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


def test_reviews_survive_a_restart(store, world):
    """A new app on the same database sees the reviews the previous one stored."""
    nip = _unreviewed_nip(world, 3)
    request_id = f"restart-{uuid.uuid4()}"
    headers = {**store.auth("manager_leaf"), "Idempotency-Key": request_id}
    body = {"decision": "rejected", "comment": "Anggaran tahun ini habis."}
    for expected in (201, 200):
        app = create_app(store.settings, StaticSource(world), RecordingLog())
        with TestClient(app) as fresh:
            assert fresh.post(_review_url(nip), json=body, headers=headers).status_code == expected
    assert _count(store.url, request_id) == 1


# --- what a change may hold -----------------------------------------------------------------------


def _change(client, world, nip: str, changes: dict, who: str = "manager_leaf"):
    headers = {**auth(world, who), "Idempotency-Key": f"chg-{uuid.uuid4()}"}
    body = {"decision": "changed", "comment": "", "changes": changes}
    return client.post(_review_url(nip), json=body, headers=headers)


def _reviews(client, world, nip: str) -> int:
    return client.get(f"/v1/plans/{nip}/reviews", headers=auth(world, "hr")).json()["count"]


def _refused(response, field: str) -> str:
    assert response.status_code == 422, response.text
    errors = response.json()["detail"]
    assert any(e["loc"][:3] == ["body", "changes", field] for e in errors), errors
    return " ".join(e["msg"] for e in errors)


def _courses(world):
    """Catalog facts the change tests need: an active course, an inactive one, and a course
    with a prerequisite (with that prerequisite)."""
    catalog = world.state().planner.catalog
    ids = [str(x) for x in catalog.course_ids]
    inactive = next(cid for i, cid in enumerate(ids) if not catalog.active[i])
    chained = next(
        (cid, ids[catalog.prerequisites[i][0]])
        for i, cid in enumerate(ids)
        if catalog.active[i] and len(catalog.prerequisites[i])
    )
    return ids, inactive, chained


def test_changes_refuse_unknown_inactive_taken_and_duplicate_courses(client, world):
    nip = _unreviewed_nip(world, 5)
    state = world.state()
    path = [s["course_id"] for s in state.plan(nip)["training_path"]]
    ids, inactive, _ = _courses(world)
    view = state.employee_view(nip)
    taken = set(view.completed[c.COURSE_ID]) | set(view.ongoing[c.COURSE_ID])
    fresh = next(
        cid
        for i, cid in enumerate(ids)
        if state.planner.catalog.active[i]
        and cid not in path
        and cid not in taken
        and not len(state.planner.catalog.prerequisites[i])
    )
    nope = _change(client, world, nip, {"add_course_ids": ["NOPE"]})
    assert "not a course" in _refused(nope, "add_course_ids")
    script = _change(client, world, nip, {"add_course_ids": ["<script>alert(1)</script>"]})
    _refused(script, "add_course_ids")
    assert "no longer offered" in _refused(
        _change(client, world, nip, {"add_course_ids": [inactive]}), "add_course_ids"
    )
    twice = _change(client, world, nip, {"add_course_ids": [fresh, fresh]})
    assert "twice" in _refused(twice, "add_course_ids")
    already = _change(client, world, nip, {"add_course_ids": [path[0]]})
    assert "already in the plan" in _refused(already, "add_course_ids")
    if taken:
        done = sorted(taken)[0]
        _refused(_change(client, world, nip, {"add_course_ids": [done]}), "add_course_ids")
    gone = _change(client, world, nip, {"remove_course_ids": ["PLT-9999"]})
    assert "not in the plan" in _refused(gone, "remove_course_ids")
    assert _reviews(client, world, nip) == 0  # nothing refused was stored

    # course_order must be exactly the resulting path
    resulting = [*path, fresh]
    partial = _change(
        client, world, nip, {"add_course_ids": [fresh], "course_order": resulting[:-1]}
    )
    assert "exactly once" in _refused(partial, "course_order")
    stranger = _change(client, world, nip, {"course_order": [*path[:-1], "NOPE"]})
    _refused(stranger, "course_order")
    reordered = [fresh, *path]  # the new course first; the model's order keeps prerequisites
    ok = _change(client, world, nip, {"add_course_ids": [fresh], "course_order": reordered})
    assert ok.status_code == 201, ok.text
    assert _reviews(client, world, nip) == 1


def test_changes_keep_prerequisites_before_their_courses(client, world):
    state = world.state()
    _, _, (course, prerequisite) = _courses(world)
    for index in range(6, 12):
        nip = _unreviewed_nip(world, index)
        view = state.employee_view(nip)
        taken = set(view.completed[c.COURSE_ID]) | set(view.ongoing[c.COURSE_ID])
        path = [s["course_id"] for s in state.plan(nip)["training_path"]]
        if not taken & {course, prerequisite} and not set(path) & {course, prerequisite}:
            break
    else:
        raise AssertionError("no employee without the course chain")
    alone = _change(client, world, nip, {"add_course_ids": [course]})
    assert f"needs {prerequisite!r}" in _refused(alone, "add_course_ids")
    both = [prerequisite, course]
    backwards = _change(
        client, world, nip, {"add_course_ids": both, "course_order": [*path, course, prerequisite]}
    )
    _refused(backwards, "course_order")
    assert _change(client, world, nip, {"add_course_ids": both}).status_code == 201
    dropped = _change(client, world, nip, {"remove_course_ids": [prerequisite]})
    assert f"needs {prerequisite!r}" in _refused(dropped, "remove_course_ids")


def _mentee_with_scoped_mentor(world) -> tuple[str, str, str, str]:
    """(mentee, mentor in the manager's scope, unit, manager key): the leaf unit's manager
    when the leaf has a confidently eligible mentor, else the manager of its parent unit."""
    state = world.state()
    for unit, who in ((leaf_unit(world), "manager_leaf"), (parent_unit(world), "manager_root")):
        scope = state.scope_of([unit])
        for nip in state.unit_members(leaf_unit(world)):
            for mentor in state.mentor_ranking(nip, 50)["mentor_nip"]:
                if state.unit_of[mentor] in scope:
                    return nip, str(mentor), unit, who
    raise AssertionError("no mentee of the leaf unit with an eligible mentor in scope")


def test_mentor_change_follows_the_recommenders_rules_and_the_managers_scope(client, world):
    state = world.state()
    leaf = leaf_unit(world)
    nip, mentor, _, who = _mentee_with_scoped_mentor(world)
    before = _reviews(client, world, nip)
    ranked = set(state.mentor_ranking(nip, 50)["mentor_nip"])
    # outside the manager's units and not the plan's proposed mentor (which is always allowed)
    outside = next(
        n
        for n in world.view.employees[c.NIP].astype(str)
        if state.unit_of[n] not in state.scope_of([leaf]) and n not in ranked
    )
    out_of_scope = _change(client, world, nip, {"mentor_nip": outside})
    assert "not in your units" in _refused(out_of_scope, "mentor_nip")
    unknown = _change(client, world, nip, {"mentor_nip": "199001012015011999"})
    assert "not in your units" in _refused(unknown, "mentor_nip")  # says nothing about who
    itself = _change(client, world, nip, {"mentor_nip": nip})
    assert "themselves" in _refused(itself, "mentor_nip")
    colleague = next(n for n in state.unit_members(leaf) if n not in ranked and n != nip)
    assert state.unit_of[colleague] in state.scope_of([leaf])
    _refused(_change(client, world, nip, {"mentor_nip": colleague}), "mentor_nip")
    assert _reviews(client, world, nip) == before
    # an eligible mentor in the manager's scope is accepted
    assert _change(client, world, nip, {"mentor_nip": mentor}, who).status_code == 201


def test_mentor_refusal_agrees_with_the_ranking(world):
    """Brute force: for a few mentees, exactly the mentors `rank_mentors` lists pass."""
    view, scorer = world.view, world.planner.mentor_scorer
    everyone = view.employees[c.NIP].astype(str).tolist()
    checked = 0
    for nip in everyone:
        ranked = rank_mentors(view, scorer, nip, top_k=len(everyone))
        if ranked.empty:
            continue
        allowed = {m for m in everyone if mentor_refusal(view, nip, m) is None}
        assert allowed == set(ranked["mentor_nip"]), nip
        checked += 1
        if checked == 3:
            break
    assert checked == 3


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
    app = create_app(serve_ready(world.settings), source, RecordingLog())
    body = {"decision": "changed", "comment": "", "changes": {"add_course_ids": [course]}}
    with TestClient(app) as client:
        headers = {**auth(world, "manager_leaf"), "Idempotency-Key": f"pre-{uuid.uuid4()}"}
        refused = client.post(_review_url(nip), json=body, headers=headers)
        assert refused.status_code == 422, refused.text
        (error,) = refused.json()["detail"]
        assert error["loc"][-1] == "add_course_ids" and error["input"] == course
        assert prerequisite in error["msg"] and "ongoing" in error["msg"]
        assert error["type"] == "missing_prerequisite"
        assert _rows(world, headers["Idempotency-Key"]) == 0
    # Without the ongoing row the prerequisite may join the plan, and the course after it.
    with TestClient(create_app(serve_ready(world.settings), StaticSource(world))) as client:
        headers = {**auth(world, "manager_leaf"), "Idempotency-Key": f"pre-{uuid.uuid4()}"}
        both = {**body, "changes": {"add_course_ids": [prerequisite, course]}}
        assert client.post(_review_url(nip), json=both, headers=headers).status_code == 201
