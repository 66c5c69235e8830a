"""Recommendation endpoints: happy paths, access rules, every hard edge (401/403/404/422)."""

from __future__ import annotations

import json
import math

import pytest
from conftest_serving import (
    auth,
    client_fixture,  # noqa: F401
    leaf_unit,
    nip_in,
    nip_outside,
    parent_unit,
    predictions_fixture,  # noqa: F401
    world_fixture,  # noqa: F401
)

from features import columns as c
from serving.schemas import PlanPublic, nip_problem
from serving.state import ServingState

UNKNOWN_NIP = "199001012015011999"  # well formed, nobody has it


def _all_numbers_finite(payload: object) -> bool:
    if isinstance(payload, float):
        return math.isfinite(payload)
    if isinstance(payload, dict):
        return all(_all_numbers_finite(v) for v in payload.values())
    if isinstance(payload, list):
        return all(_all_numbers_finite(v) for v in payload)
    return True


def _nip_with_mentors(world) -> str:
    state = world.state()
    for nip in world.view.employees[c.NIP].astype(str):
        if len(state.mentor_ranking(nip, 3)) >= 2:
            return nip
    raise AssertionError("no employee with two eligible mentors in the demo data")


# --- health ---------------------------------------------------------------------------------------


def test_health_ready_ping_and_openapi(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ready" and body["model_version"] == "1"
    assert body["n_employees"] > 100
    assert client.get("/v1/ping").json() == {"pong": True}
    spec = client.get("/openapi.json").json()
    for path in (
        "/v1/recommendations/training-path",
        "/v1/recommendations/mentors",
        "/v1/employees/{nip}/plan",
        "/v1/mentoring/assignments",
        "/v1/plans/{nip}/review",
        "/v1/plans/{nip}/reviews",
        "/v1/admin/reload",
    ):
        assert path in spec["paths"]
    assert {"APIKeyHeader", "HTTPBearer"} <= set(spec["components"]["securitySchemes"])


def test_metrics_endpoint_counts_requests_by_template(client, world):
    nip = nip_in(world, leaf_unit(world))
    client.get(f"/v1/employees/{nip}/plan", headers=auth(world, "hr"))
    text = client.get("/metrics").text
    assert "kompeten_http_requests_total" in text
    assert "/v1/employees/{nip}/plan" in text
    assert nip not in text
    assert 'kompeten_model_info{alias="champion",name="kompeten-planner",version="1"}' in text


# --- happy paths ----------------------------------------------------------------------------------


def test_training_path(client, world, predictions):
    nip = nip_in(world, leaf_unit(world))
    response = client.post(
        "/v1/recommendations/training-path", json={"nip": nip}, headers=auth(world, "hr")
    )
    assert response.status_code == 200
    body = response.json()
    assert body["nip"] == nip and body["model_version"] == "1"
    assert body["jp_budget"] == 40 and body["total_jp"] <= 40
    assert body["as_of"] == str(world.view.as_of.date())
    assert body["total_jp"] == sum(s["hours_jp"] for s in body["training_path"])
    for step in body["training_path"]:
        assert step["reason_id"] and step["reason_en"]
    assert body["participation_risk"] is None or 0.0 <= body["participation_risk"] <= 1.0
    assert isinstance(body["risk_reasons"], list)
    assert _all_numbers_finite(body)
    kind, recorded_nip, version, items, scores, risk, latency = predictions.records[-1]
    assert (kind, recorded_nip, version) == ("training_path", nip, "1")
    assert items == [s["course_id"] for s in body["training_path"]]
    assert len(scores) == len(items) and latency >= 0.0


def test_training_path_budget_and_top_k(client, world, predictions):
    state = world.state()
    nip = next(
        n
        for n in world.view.employees[c.NIP].astype(str)
        if len(state.plan(n)["training_path"]) >= 2
    )
    headers = auth(world, "hr")
    cut = client.post(
        "/v1/recommendations/training-path", json={"nip": nip, "top_k": 1}, headers=headers
    ).json()
    assert len(cut["training_path"]) == 1 and cut["truncated"] is True
    small = client.post(
        "/v1/recommendations/training-path", json={"nip": nip, "jp_budget": 12}, headers=headers
    ).json()
    assert small["jp_budget"] == 12
    assert small["model_version"] == "1"
    kind, recorded_nip, _, items, scores, _, _ = predictions.records[-1]  # planned on demand
    assert (kind, recorded_nip) == ("training_path", nip)
    assert items == [s["course_id"] for s in small["training_path"]]
    assert len(scores) == len(items)


def test_plan_matches_single_employee_planning(client, world):
    """The batch-precomputed plan equals planning this employee alone."""
    state = world.state()
    nip = nip_in(world, leaf_unit(world))
    response = client.get(f"/v1/employees/{nip}/plan", headers=auth(world, "hr"))
    assert response.status_code == 200
    body = response.json()
    alone = state.planner.plan(
        state.employee_view(nip),
        mentor_pairs=state.mentor_of(nip),
        model_version=state.model_version,
    )[0]
    expected = PlanPublic.from_plan(alone, state.as_of.date(), 40).model_dump(mode="json")
    assert body.pop("data_changed_since_review") in (None, False)  # the same data
    assert body == expected
    assert set(body) >= {"gaps", "training_path", "mentor", "participation_risk"}


def test_mentors_ranked_and_limited(client, world):
    nip = _nip_with_mentors(world)
    response = client.post(
        "/v1/recommendations/mentors", json={"nip": nip, "top_k": 2}, headers=auth(world, "hr")
    )
    assert response.status_code == 200
    body = response.json()
    assert body["model_version"] == "1" and body["competency_id"]
    mentors = body["mentors"]
    assert [m["rank"] for m in mentors] == [1, 2]
    assert mentors[0]["score"] >= mentors[1]["score"]
    assert all(m["mentor_nip"] != nip and m["reason_id"] for m in mentors)


def test_mentoring_assignment_covers_sub_units_within_capacity(client, world):
    root = parent_unit(world)
    response = client.post(
        "/v1/mentoring/assignments",
        json={"unit_id": root, "capacity": 1},
        headers=auth(world, "analyst"),
    )
    assert response.status_code == 200
    body = response.json()
    assert body["capacity"] == 1 and body["model_version"] == "1"
    assert leaf_unit(world) in body["units"] and root in body["units"]
    assert body["n_assigned"] == len(body["pairs"]) > 0
    mentors = [p["mentor_nip"] for p in body["pairs"]]
    assert len(mentors) == len(set(mentors))  # capacity 1: nobody mentors twice
    assert len({p["mentee_nip"] for p in body["pairs"]}) == len(body["pairs"])
    members = set(world.state().unit_members(root))
    assert {p["mentee_nip"] for p in body["pairs"]} <= members
    assert math.isclose(body["total_score"], sum(p["score"] for p in body["pairs"]))


# --- access ---------------------------------------------------------------------------------------


def test_missing_invalid_and_revoked_keys_are_401(client, world):
    nip = nip_in(world, leaf_unit(world))
    url = f"/v1/employees/{nip}/plan"
    assert client.get(url).status_code == 401
    assert client.get(url, headers={"X-API-Key": "kmp_000000000000_" + "x" * 43}).status_code == 401
    assert client.get(url, headers={"X-API-Key": "not-a-key"}).status_code == 401
    assert client.get(url, headers=auth(world, "revoked")).status_code == 401
    response = client.get(url, headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"


def test_bearer_token_is_accepted(client, world):
    nip = nip_in(world, leaf_unit(world))
    headers = {"Authorization": f"Bearer {world.keys['hr']}"}
    assert client.get(f"/v1/employees/{nip}/plan", headers=headers).status_code == 200


def test_manager_sees_own_units_and_sub_units_only(client, world):
    leaf = leaf_unit(world)
    inside, outside = nip_in(world, leaf), nip_outside(world, leaf)
    leaf_key, root_key = auth(world, "manager_leaf"), auth(world, "manager_root")
    assert client.get(f"/v1/employees/{inside}/plan", headers=leaf_key).status_code == 200
    assert client.get(f"/v1/employees/{outside}/plan", headers=leaf_key).status_code == 403
    assert client.get(f"/v1/employees/{outside}/plan", headers=root_key).status_code == 200
    forbidden = client.post(
        "/v1/recommendations/training-path", json={"nip": outside}, headers=leaf_key
    )
    assert forbidden.status_code == 403
    assert "units" in forbidden.json()["detail"]
    mentors = client.post("/v1/recommendations/mentors", json={"nip": outside}, headers=leaf_key)
    assert mentors.status_code == 403
    root = parent_unit(world)
    assignment = client.post("/v1/mentoring/assignments", json={"unit_id": root}, headers=leaf_key)
    assert assignment.status_code == 403
    own = client.post("/v1/mentoring/assignments", json={"unit_id": leaf}, headers=leaf_key)
    assert own.status_code == 200


def test_reload_needs_the_analyst_role(client, world):
    assert client.post("/v1/admin/reload", headers=auth(world, "hr")).status_code == 403
    assert client.post("/v1/admin/reload", headers=auth(world, "manager_root")).status_code == 403
    response = client.post("/v1/admin/reload", headers=auth(world, "analyst"))
    assert response.status_code == 200 and response.json()["status"] == "unchanged"


# --- hard edges -----------------------------------------------------------------------------------


def test_unknown_nip_is_404(client, world):
    headers = auth(world, "hr")
    assert client.get(f"/v1/employees/{UNKNOWN_NIP}/plan", headers=headers).status_code == 404
    for path in ("/v1/recommendations/training-path", "/v1/recommendations/mentors"):
        assert client.post(path, json={"nip": UNKNOWN_NIP}, headers=headers).status_code == 404
    response = client.post(
        "/v1/mentoring/assignments", json={"unit_id": "NO-SUCH-UNIT"}, headers=headers
    )
    assert response.status_code == 404


@pytest.mark.parametrize(
    "nip",
    [
        "12345",  # too short
        "19850312201001100X",  # not digits
        "198513122010011001",  # month 13 in the birth date
        "198503122010131001",  # month 13 in TMT CPNS
        "198503122010013001",  # gender digit 3
        "1985031220100110011",  # 19 digits
    ],
)
def test_malformed_nip_is_422_and_explains_the_format(client, world, nip):
    headers = auth(world, "hr")
    for response in (
        client.get(f"/v1/employees/{nip}/plan", headers=headers),
        client.post("/v1/recommendations/training-path", json={"nip": nip}, headers=headers),
    ):
        assert response.status_code == 422
        message = json.dumps(response.json())
        assert "18 digits" in message and "YYYYMMDD" in message and "gender" in message


def test_nip_problem_names_the_part_that_is_wrong():
    assert nip_problem("198503122010011001") is None
    assert "birth date" in nip_problem("198502302010011001")
    assert "TMT" in nip_problem("198503122010001001")
    assert "1 (L) or 2 (P)" in nip_problem("198503122010010001")


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/recommendations/training-path", {"jp_budget": 0}, "jp_budget"),
        ("/v1/recommendations/training-path", {"jp_budget": 201}, "jp_budget"),
        ("/v1/recommendations/training-path", {"top_k": 0}, "top_k"),
        ("/v1/recommendations/training-path", {"top_k": 51}, "top_k"),
        ("/v1/recommendations/mentors", {"top_k": 51}, "top_k"),
        ("/v1/recommendations/training-path", {"surprise": 1}, "surprise"),
        ("/v1/mentoring/assignments", {"capacity": 0}, "capacity"),
        ("/v1/mentoring/assignments", {"capacity": 21}, "capacity"),
    ],
)
def test_out_of_range_fields_are_422_naming_the_field(client, world, path, body, field):
    base = (
        {"unit_id": leaf_unit(world)}
        if "mentoring" in path
        else {"nip": nip_in(world, leaf_unit(world))}
    )
    response = client.post(path, json={**base, **body}, headers=auth(world, "hr"))
    assert response.status_code == 422
    assert any(err["loc"][-1] == field for err in response.json()["detail"])


def test_spaces_in_a_grouped_nip_are_ignored(client, world):
    nip = nip_in(world, leaf_unit(world))
    grouped = f"{nip[:8]} {nip[8:14]} {nip[14]} {nip[15:]}"
    response = client.post(
        "/v1/recommendations/training-path", json={"nip": grouped}, headers=auth(world, "hr")
    )
    assert response.status_code == 200 and response.json()["nip"] == nip


def test_unhandled_error_is_a_json_500_without_internals(client, world, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("secret internal detail 198503122010011001")

    monkeypatch.setattr(ServingState, "cached_mentor_ranking", broken)
    nip = nip_in(world, leaf_unit(world))
    response = client.post(
        "/v1/recommendations/mentors", json={"nip": nip}, headers=auth(world, "hr")
    )
    assert response.status_code == 500
    body = response.json()
    assert body["detail"].startswith("internal error") and len(body["error_id"]) == 12
    assert "secret" not in response.text and "Traceback" not in response.text
