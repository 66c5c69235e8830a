"""Training paths for any budget and options come from the inputs kept at load: the same paths
as the batch plan (`kompeten plan`), without running an estimator per request."""

from __future__ import annotations

import numpy as np
import pytest
from conftest_serving import (
    auth,
    client_fixture,  # noqa: F401
    nip_in,
    parent_unit,
    predictions_fixture,  # noqa: F401
    world_fixture,  # noqa: F401
)

from features import columns as c
from model.path_catalog import Catalog
from model.path_table import PathTable
from serving.schemas import TrainingPathPublic
from serving.services.training_paths import UnknownCourses, restricted_catalog
from training_pipeline.batch_plan import plan_partitions

PATH = "/v1/recommendations/training-path"
BUDGETS = (20, 27, 40, 48, 60)
_NOT_MENTOR = ("gaps", "training_path", "total_jp", "participation_risk", "risk_note_id")


def _unit_members(world, state) -> list[str]:
    return list(state.unit_members(parent_unit(world)))


@pytest.mark.parametrize("budget", BUDGETS)
def test_computed_path_equals_the_batch_plan(world, client, budget):
    """Over a demo unit and its sub-units: the API's path for a budget is the batch plan's."""
    state = world.state()
    members = _unit_members(world, state)
    assert len(members) >= 5
    batch = {
        p[c.NIP]: p
        for p in plan_partitions(
            world.planner,
            world.view,
            world.tables[c.UNITS],
            jp_budget=budget,
            mentor_capacity=state.default_capacity,
            model_version=state.model_version,
        )
    }
    headers = auth(world, "hr")
    as_of = state.as_of.date()
    for nip in members:
        served = state.plan(nip, budget)
        expected = batch[nip]
        assert {k: served[k] for k in _NOT_MENTOR} == {k: expected[k] for k in _NOT_MENTOR}, nip
        assert served["risk_note_en"] == expected["risk_note_en"]
        response = client.post(PATH, json={"nip": nip, "jp_budget": budget}, headers=headers)
        assert response.status_code == 200
        body = TrainingPathPublic.from_plan(
            {**expected, "mentor": served["mentor"]},
            as_of,
            budget,
            risk_reasons=state.risk_reasons(nip),
            truncated=False,
        )
        assert response.content == body.model_dump_json().encode(), nip


def test_a_request_runs_no_estimator(world, client, monkeypatch):
    """After load, any budget or option only builds the path: scoring would raise here."""
    state = world.state()
    nip = _unit_members(world, state)[0]

    def refuse(*args, **kwargs):
        raise AssertionError("an estimator ran on the request path")

    monkeypatch.setattr(world.planner.recommender, "score_candidates", refuse)
    monkeypatch.setattr(world.planner, "risks", refuse)
    monkeypatch.setattr(world.planner, "path_inputs", refuse)
    headers = auth(world, "hr")
    for body in (
        {"nip": nip, "jp_budget": 23},
        {"nip": nip, "jp_budget": 57, "modes": ["e_learning"]},
        {"nip": nip, "exclude_course_ids": [state.planner.catalog.course_ids[0]]},
    ):
        assert client.post(PATH, json=body, headers=headers).status_code == 200, body


def _rebuilt_without(catalog: Catalog, unavailable: np.ndarray) -> Catalog:
    """The catalog rebuilt from scratch with those courses inactive (what `without` must match)."""
    return Catalog(
        course_ids=catalog.course_ids,
        titles=catalog.titles,
        modes=catalog.modes,
        hours=catalog.hours,
        active=catalog.active & ~unavailable,
        entry_ptr=catalog.entry_ptr,
        entry_comp=catalog.entry_comp,
        entry_min=catalog.entry_min,
        entry_target=catalog.entry_target,
        prerequisites=catalog.prerequisites,
        competency_ids=catalog.competency_ids,
        competency_names=catalog.competency_names,
    )


def test_excluded_courses_and_formats_are_never_in_the_path(world):
    state = world.state()
    planner = state.planner
    catalog = planner.catalog
    mode_of = dict(zip(catalog.course_ids, catalog.modes, strict=True))
    changed = 0
    for nip in _unit_members(world, state):
        default = state.plan(nip)
        taken = [s[c.COURSE_ID] for s in default["training_path"]]
        for exclude, modes in ((taken[:2], None), ((), ("e_learning", "klasikal")), (taken, None)):
            restricted = restricted_catalog(catalog, exclude, modes)
            plan = state.plan(nip, 40, restricted)
            ids = [s[c.COURSE_ID] for s in plan["training_path"]]
            assert not set(ids) & set(exclude)
            if modes is not None:
                assert all(mode_of[i] in modes for i in ids)
            unavailable = ~restricted.active & catalog.active
            rebuilt = _rebuilt_without(catalog, unavailable)
            again = planner.path(state.path_input(nip), 40, rebuilt)
            assert ids == [s.course_id for s in again]
            changed += ids != taken
    assert changed > 0


def test_unknown_excluded_course_and_format_are_422(world, client):
    nip = nip_in(world, parent_unit(world))
    headers = auth(world, "hr")
    with pytest.raises(UnknownCourses):
        restricted_catalog(world.state().planner.catalog, ["NOPE-1"], None)
    response = client.post(
        PATH, json={"nip": nip, "exclude_course_ids": ["NOPE-1", "NOPE-2"]}, headers=headers
    )
    assert response.status_code == 422
    assert "NOPE-1" in response.json()["detail"] and "NOPE-2" in response.json()["detail"]
    response = client.post(PATH, json={"nip": nip, "modes": ["teleport"]}, headers=headers)
    assert response.status_code == 422
    assert "klasikal" in str(response.json()["detail"])


def test_path_table_hands_back_the_inputs_it_packed(world):
    state = world.state()
    view = world.view.subset(_unit_members(world, state))
    inputs = world.planner.path_inputs(view, world.planner.risks(view))
    table = PathTable(inputs)
    assert len(table) == len(inputs) and table.nbytes > 0
    for nip, entry in inputs.items():
        got = table.entry(nip)
        assert got.state is entry.state
        assert got.risk == entry.risk
        assert got.participation_risk == pytest.approx(entry.participation_risk, nan_ok=True)
        for field in ("course_idx", "p_complete", "gain", "score"):
            np.testing.assert_array_equal(
                getattr(got.candidates, field), getattr(entry.candidates, field)
            )
    assert table.entry("000000000000000000") is None


def test_a_body_that_is_not_json_is_a_4xx_with_the_parser_error(world, client):
    """The precomputed route reads the body StrictJsonMiddleware parsed; a body it could not
    parse goes to the handler, whose 422 says where the JSON broke."""
    nip = nip_in(world, parent_unit(world))
    headers = {**auth(world, "hr"), "content-type": "application/json"}
    response = client.post(
        PATH, content=f'{{"nip": "{nip}", "jp_budget": 30'.encode(), headers=headers
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "json_invalid"
    fine = client.post(
        PATH, content=f'{{"nip": "{nip}", "jp_budget": 30}}'.encode(), headers=headers
    )
    assert fine.status_code == 200 and fine.json()["jp_budget"] == 30
