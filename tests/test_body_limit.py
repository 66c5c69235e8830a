"""Oversized bodies get 413 before parsing; a 422 echoes only a short prefix of what was sent."""

from __future__ import annotations

import asyncio
import json

from conftest_serving import (
    auth,
    client_fixture,  # noqa: F401
    leaf_unit,
    nip_in,
    predictions_fixture,  # noqa: F401
    world_fixture,  # noqa: F401
)

from serving.body_limit import BodyLimitMiddleware
from serving.strict_json import ECHO_CHARS, short_echo

PATH = "/v1/recommendations/training-path"
LIMIT = 1_048_576  # the default KOMPETEN_SERVE_MAX_BODY_BYTES


def test_a_body_over_the_limit_is_413_whatever_it_holds(client, world):
    headers = {**auth(world, "hr"), "content-type": "application/json"}
    big_nip = json.dumps({"nip": "1" * (5 * 1024 * 1024)})
    response = client.post(PATH, content=big_nip, headers=headers)
    assert response.status_code == 413
    assert str(LIMIT) in response.json()["detail"]
    not_json = client.post(PATH, content=b"x" * (LIMIT + 1), headers=headers)
    assert not_json.status_code == 413
    nip = nip_in(world, leaf_unit(world))
    assert client.post(PATH, json={"nip": nip}, headers=auth(world, "hr")).status_code == 200


def test_a_chunked_body_is_counted_as_it_arrives():
    """No Content-Length: the middleware stops reading once the limit is passed."""
    sent: list[dict] = []
    reached_app = []
    chunks = [{"type": "http.request", "body": b"a" * 600, "more_body": True}] * 3

    async def app(scope, receive, send):
        reached_app.append(await receive())

    async def run(messages):
        pending = list(messages)

        async def receive():
            return pending.pop(0)

        async def send(message):
            sent.append(message)

        scope = {"type": "http", "method": "POST", "headers": []}
        await BodyLimitMiddleware(app, max_bytes=1_024)(scope, receive, send)

    asyncio.run(run(chunks))
    assert sent[0]["status"] == 413 and not reached_app
    sent.clear()
    asyncio.run(run([{"type": "http.request", "body": b"a" * 600, "more_body": False}]))
    assert reached_app[0]["body"] == b"a" * 600 and not sent


def test_a_long_invalid_value_is_echoed_as_a_short_prefix(client, world):
    headers = auth(world, "hr")
    long_nip = "9" * 200_000
    response = client.post(PATH, json={"nip": long_nip}, headers=headers)
    assert response.status_code == 422
    assert len(response.content) < 2_000
    echoed = response.json()["detail"][0]["input"]
    assert echoed.startswith("9" * ECHO_CHARS) and "200000 characters" in echoed
    many = client.post(
        PATH, json={"nip": "1", **{f"k{i}": "v" * 999 for i in range(50)}}, headers=headers
    )
    assert many.status_code == 422 and len(many.content) < 20_000


def test_short_echo_bounds_strings_lists_and_objects():
    assert short_echo("abc") == "abc"
    assert len(short_echo("x" * 10_000)) < ECHO_CHARS + 40
    assert len(short_echo(list(range(1_000)))) == 11
    nested = short_echo({"a": [[["deep"]]]})
    assert nested == {"a": [["… (1 items)"]]}
