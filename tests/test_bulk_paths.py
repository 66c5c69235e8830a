"""The bulk endpoint: many employees with their own budgets in one call, JSON Lines, errors per
item; every line is what the one-employee endpoint answers for that item."""

from __future__ import annotations

import json

from conftest_serving import (
    auth,
    client_fixture,  # noqa: F401
    leaf_unit,
    nip_in,
    nip_outside,
    predictions_fixture,  # noqa: F401
    world_fixture,  # noqa: F401
)

BULK = "/v1/recommendations/training-path/bulk"
ONE = "/v1/recommendations/training-path"


def _lines(response) -> list[dict]:
    return [json.loads(line) for line in response.text.splitlines()]


def test_thousand_items_one_bad_nip_gives_one_error_and_999_paths(client, world, predictions):
    nips = world.view.employees["nip"].astype(str).tolist()
    items = [{"nip": nips[i % len(nips)], "jp_budget": 20 + i % 41} for i in range(1_000)]
    items[500] = {"nip": "12345", "jp_budget": 30}
    headers = auth(world, "hr")
    before = len(predictions.records)
    response = client.post(BULK, json={"items": items}, headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    lines = _lines(response)
    assert [line["index"] for line in lines] == list(range(1_000))
    bad = [line for line in lines if line["status"] != 200]
    assert len(bad) == 1 and bad[0]["index"] == 500 and bad[0]["status"] == 422
    assert bad[0]["nip"] == "12345" and "18 digits" in json.dumps(bad[0]["detail"])
    assert len(predictions.records) - before == 999
    for i in (0, 1, 77, 499, 501, 999):  # each line is the single request's answer
        single = client.post(ONE, json=items[i], headers=headers)
        assert single.json() == lines[i]["result"], i
        assert lines[i]["result"]["jp_budget"] == items[i]["jp_budget"]


def test_items_fail_alone_with_the_status_a_single_request_gets(client, world):
    leaf = leaf_unit(world)
    inside, outside = nip_in(world, leaf), nip_outside(world, leaf)
    items = [
        {"nip": inside, "modes": ["e_learning"]},
        {"nip": "199001012015011999"},  # well formed, nobody has it
        {"nip": outside},
        {"nip": inside, "exclude_course_ids": ["NOPE"]},
        {"nip": inside, "jp_budget": 0},
        {"nip": "9" * 10_000},
        {"nip": inside, "surprise": True},
    ]
    response = client.post(BULK, json={"items": items}, headers=auth(world, "manager_leaf"))
    assert response.status_code == 200
    statuses = [line["status"] for line in _lines(response)]
    assert statuses == [200, 404, 403, 422, 422, 422, 422]
    long = _lines(response)[5]
    assert len(long["nip"]) < 100 and len(json.dumps(long)) < 2_000
    assert "NOPE" in _lines(response)[3]["detail"]


def test_the_batch_itself_must_be_well_formed(client, world):
    headers = auth(world, "hr")
    nip = nip_in(world, leaf_unit(world))
    assert client.post(BULK, json={"items": []}, headers=headers).status_code == 422
    too_many = {"items": [{"nip": nip}] * 1_001}
    assert client.post(BULK, json=too_many, headers=headers).status_code == 422
    assert client.post(BULK, json={"items": [{"nip": nip}]}).status_code == 401
