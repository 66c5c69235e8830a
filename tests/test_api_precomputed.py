"""The answers serialised at load are exactly what the handlers would build, and the precomputed
route only answers what the handler would answer the same way."""

from __future__ import annotations

import gc

from conftest_serving import (
    auth,
    client_fixture,  # noqa: F401
    leaf_unit,
    nip_in,
    nip_outside,
    predictions_fixture,  # noqa: F401
    world_fixture,  # noqa: F401
)
from fastapi import HTTPException

from features import columns as c
from serving.routes import recommendations
from serving.schemas import EmployeePlanPublic, PlanPublic, TrainingPathPublic
from serving.state import build_state

PATH = "/v1/recommendations/training-path"


def _expected(state, nip: str) -> tuple[bytes, bytes]:
    """The plan and training-path bodies as the handlers render them from the plan dict."""
    plan = state.cached_plan(nip)
    as_of, budget = state.as_of.date(), state.default_jp_budget
    steps = plan["training_path"]
    plan_body = PlanPublic.from_plan(plan, as_of, budget).model_dump_json()
    path_body = TrainingPathPublic.from_plan(
        {**plan, "total_jp": sum(int(s["hours_jp"]) for s in steps)},
        as_of,
        budget,
        risk_reasons=state.risk_reasons(nip),
        truncated=False,
    ).model_dump_json()
    return plan_body.encode(), path_body.encode()


def test_every_precomputed_body_equals_the_rendered_model(world):
    state = world.state()
    nips = world.view.employees["nip"].astype(str).tolist()
    assert len(state._answers) == len(nips)  # every active employee of the demo is precomputed
    for nip in nips:
        answer = state.cached_answer(nip)
        assert (answer.plan_body, answer.training_path_body) == _expected(state, nip), nip
        steps = state.cached_plan(nip)["training_path"]
        assert list(answer.course_ids) == [s["course_id"] for s in steps]


def test_precomputed_route_answers_like_the_handler(client, world, predictions, monkeypatch):
    nip = nip_in(world, leaf_unit(world))
    headers = auth(world, "hr")
    cold = client.post(PATH, json={"nip": nip}, headers=headers)  # key verified by the handler
    warm = client.post(PATH, json={"nip": nip}, headers=headers)  # key cached: precomputed
    assert cold.status_code == warm.status_code == 200
    assert cold.content == warm.content == _expected(world.state(), nip)[1]
    assert warm.headers["content-type"] == "application/json"
    first, second = predictions.records[-2:]
    assert first[:5] == second[:5]  # kind, nip, version, items, scores
    assert second[:3] == ("training_path", nip, "1") and isinstance(second[3], list)

    # The handler is the only caller of `authorize_employee`: make it fail to see who answers.
    def refuse(*args, **kwargs):
        raise HTTPException(418, "handler")

    monkeypatch.setattr(recommendations, "authorize_employee", refuse)
    assert client.post(PATH, json={"nip": nip}, headers=headers).status_code == 200
    grouped = f"{nip[:8]} {nip[8:14]} {nip[14]} {nip[15:]}"
    assert client.post(PATH, json={"nip": grouped}, headers=headers).status_code == 200
    bearer = {"Authorization": f"Bearer {world.keys['hr']}"}
    assert client.post(PATH, json={"nip": nip}, headers=bearer).status_code == 200
    default = {"nip": nip, "jp_budget": 40, "top_k": 50}
    assert client.post(PATH, json=default, headers=headers).status_code == 200
    for handled, status in (
        ({"nip": nip, "top_k": 1}, 200),  # cuts the path: built on the event loop
        ({"nip": nip, "jp_budget": 12}, 200),  # another budget: the same
        ({"nip": nip, "modes": ["e_learning"], "exclude_course_ids": []}, 200),
        ({"nip": nip, "exclude_course_ids": ["NO-SUCH-COURSE"]}, 418),  # the handler's 422
        ({"nip": nip, "modes": ["by_pigeon"]}, 422),  # refused before the handler
        ({"nip": nip, "jp_budget": "40"}, 418),  # a coercion pydantic decides on
        ({"nip": "199001012015011999"}, 418),  # nobody has it: the handler's 404
        ({"nip": nip, "top_k": 51}, 422),  # out of range: refused before the handler
        ({"nip": nip, "extra": 1}, 422),  # unknown field: refused before the handler
    ):
        assert client.post(PATH, json=handled, headers=headers).status_code == status, handled
    text = {"Content-Type": "text/plain", **headers}
    assert client.post(PATH, content=f'{{"nip":"{nip}"}}', headers=text).status_code == 422


def test_precomputed_route_keeps_manager_scope_and_key_checks(client, world, monkeypatch):
    leaf = leaf_unit(world)
    inside, outside = nip_in(world, leaf), nip_outside(world, leaf)
    manager = auth(world, "manager_leaf")
    assert client.get(f"/v1/employees/{inside}/plan", headers=manager).status_code == 200
    # The key is cached now; outside its units the precomputed route declines, the handler 403s.
    assert client.get(f"/v1/employees/{outside}/plan", headers=manager).status_code == 403
    assert client.post(PATH, json={"nip": outside}, headers=manager).status_code == 403
    assert client.post(PATH, json={"nip": inside}, headers=manager).status_code == 200
    assert client.post(PATH, json={"nip": inside}).status_code == 401
    assert (
        client.post(PATH, json={"nip": inside}, headers=auth(world, "revoked")).status_code == 401
    )


def test_plan_route_precomputed_body(client, world, predictions):
    nip = nip_in(world, leaf_unit(world))
    headers = auth(world, "hr")
    bodies = [client.get(f"/v1/employees/{nip}/plan", headers=headers) for _ in range(2)]
    assert [b.status_code for b in bodies] == [200, 200]
    # The first request refreshes the latest reviews (handler), the second is precomputed.
    flag = bodies[0].json()["data_changed_since_review"]
    assert flag in (None, False)  # reviewed or not, the data did not change
    state = world.state()
    expected = EmployeePlanPublic.from_plan(
        state.cached_plan(nip),
        state.as_of.date(),
        state.default_jp_budget,
        data_changed_since_review=flag,
    ).model_dump_json()
    assert bodies[0].content == bodies[1].content == expected.encode()
    assert bodies[0].content.startswith(_expected(state, nip)[0][:-1])
    assert predictions.records[-1][:3] == ("plan", nip, "1")


def test_loaded_state_is_frozen_out_of_the_garbage_collector(client):
    assert gc.get_freeze_count() > 0


def test_the_default_policy_is_the_settings_not_only_the_planners(world):
    """`KOMPETEN_JP_BUDGET` / `KOMPETEN_MENTOR_CAPACITY` reach the service: the loader passes
    them to `build_state`, whose precomputed plans and assignments use them."""
    state = build_state(
        world.planner,
        "1",
        world.view,
        world.tables[c.UNITS],
        jp_budget=12,
        mentor_capacity=1,
        plan_cache_size=30,
    )
    assert (state.default_jp_budget, state.default_capacity) == (12, 1)
    nip = nip_in(world, leaf_unit(world))
    assert int(state.plan(nip)["total_jp"]) <= 12
    if state.mentor_pairs is not None and len(state.mentor_pairs):
        assert state.mentor_pairs["mentor_nip"].value_counts().max() == 1


def test_computed_route_answers_exactly_like_the_handler(client, world, predictions):
    """Budgets, exclusions and formats built on the event loop give the handler's bytes."""
    state = world.state()
    nip = nip_in(world, leaf_unit(world))
    headers = auth(world, "hr")
    first = state.cached_plan(nip)["training_path"]
    bodies = [
        {"nip": nip, "jp_budget": 25},
        {"nip": nip, "jp_budget": 60, "top_k": 2},
        {"nip": nip, "exclude_course_ids": [s["course_id"] for s in first[:1]]},
        {"nip": nip, "modes": ["e_learning", "klasikal"], "jp_budget": 33},
    ]
    client.post(PATH, json={"nip": nip}, headers=headers)  # the key is cached from here on
    fast = [client.post(PATH, json=b, headers=headers) for b in bodies]
    client.app.dependency_overrides[object] = object  # any override turns the fast route off
    try:
        slow = [client.post(PATH, json=b, headers=headers) for b in bodies]
    finally:
        client.app.dependency_overrides.clear()
    for body, f, s in zip(bodies, fast, slow, strict=True):
        assert f.status_code == s.status_code == 200, body
        assert f.content == s.content, body
    records = predictions.records[-2 * len(bodies) :]
    served = [(r[:4], r[5]) for r in records]  # kind, nip, version, courses; risk
    assert served[: len(bodies)] == served[len(bodies) :]
