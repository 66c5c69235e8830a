"""NaN, Infinity and overflowing numbers in a JSON body: 422 naming the token, never a 500."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from conftest_serving import (
    auth,
    client_fixture,  # noqa: F401
    leaf_unit,
    nip_in,
    predictions_fixture,  # noqa: F401
    world_fixture,  # noqa: F401
)
from fastapi.exceptions import RequestValidationError

from serving.strict_json import non_finite_token, validation_error_handler

JSON = {"content-type": "application/json"}


@pytest.mark.parametrize(
    ("template", "token"),
    [
        ('{"nip": "%s", "jp_budget": NaN}', "NaN"),
        ('{"nip": "%s", "top_k": Infinity}', "Infinity"),
        ('{"nip": "%s", "jp_budget": -Infinity}', "-Infinity"),
        ('{"nip": "%s", "jp_budget": 1e999}', "1e999"),
    ],
)
def test_non_finite_numbers_are_422_on_every_route_kind(client, world, template, token):
    nip = nip_in(world, leaf_unit(world))
    body = template % nip
    for url in ("/v1/recommendations/training-path", "/v1/recommendations/mentors"):
        response = client.post(url, content=body, headers={**auth(world, "hr"), **JSON})
        assert response.status_code == 422, response.text
        error = response.json()["detail"][0]
        assert error["type"] == "finite_number" and error["input"] == token


def test_non_finite_in_a_review_is_422_and_not_stored(client, world):
    nip = nip_in(world, leaf_unit(world))
    headers = {**auth(world, "manager_leaf"), **JSON, "Idempotency-Key": f"n-{uuid.uuid4()}"}
    body = '{"decision": "changed", "comment": "", "changes": {"jp_budget": NaN}}'
    response = client.post(f"/v1/plans/{nip}/review", content=body, headers=headers)
    assert response.status_code == 422
    history = client.get(f"/v1/plans/{nip}/reviews", headers=auth(world, "hr")).json()
    assert headers["Idempotency-Key"] not in json.dumps(history)


def test_the_word_nan_inside_a_string_is_data():
    assert non_finite_token(b'{"comment": "NaN Infinity 1e999"}') is None
    assert non_finite_token(b'{"a": [1, 2.5e3, {"b": NaN}]}') == "NaN"
    assert non_finite_token(b"not json") is None  # the handler's own 400/422


def test_a_422_body_always_serialises():
    errors = [
        {"type": "x", "loc": ("body", "a"), "msg": "m", "input": float("nan")},
        {"type": "y", "loc": ("body",), "msg": "m", "input": {"v": [float("inf"), object()]}},
    ]
    response = asyncio.run(validation_error_handler(None, RequestValidationError(errors)))  # type: ignore[arg-type]
    detail = json.loads(response.body)["detail"]
    assert response.status_code == 422 and detail[0]["input"] == "nan"
    assert detail[1]["input"]["v"][0] == "inf"
