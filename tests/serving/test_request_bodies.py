"""Bodies bounded while read and parsed as strict JSON, on a bare ASGI app (no model needed).

The same middleware under the real service and a real uvicorn is tested in
``tests/serving/test_hostile_http.py``.
"""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from serving.request_bodies import (
    NO_BODY,
    BodyLimit,
    BodyLimits,
    InvalidJson,
    body_limits,
    parse_strict,
    parsed_body,
)

LIMITS = {"/echo": BodyLimit(200, 3)}


async def echo(request: Request) -> JSONResponse:
    document = parsed_body(request.scope)
    raw = await request.body()  # the replayed body, byte for byte
    return JSONResponse({"parsed": None if document is NO_BODY else document, "bytes": len(raw)})


@pytest.fixture
def client() -> TestClient:
    app = Starlette(routes=[Route("/echo", echo, methods=["POST"])])
    return TestClient(BodyLimits(app, LIMITS))


def test_a_body_within_the_limits_reaches_the_route_parsed_and_replayed(client):
    answer = client.post("/echo", json={"a": [1, 2], "b": {"c": 1.5}})
    assert answer.status_code == 200
    assert answer.json()["parsed"] == {"a": [1, 2], "b": {"c": 1.5}}
    assert answer.json()["bytes"] == len(answer.request.content)


def test_an_announced_length_over_the_limit_is_refused_unread(client):
    answer = client.post("/echo", content=b"x" * 201, headers={"content-type": "application/json"})
    assert answer.status_code == 413
    assert answer.json()["error"] == "too_large"
    assert "at most 200 bytes" in answer.json()["message"]
    assert answer.headers["connection"] == "close"


def test_a_chunked_body_is_refused_at_the_chunk_over_the_limit(client):
    chunks = (b'{"a":"' + b"x" * 50 + b'",' for _ in range(100))
    answer = client.post("/echo", content=chunks, headers={"content-type": "application/json"})
    assert answer.status_code == 413


def test_too_many_objects_are_refused_while_read(client):
    answer = client.post(
        "/echo", content=b"[{},{},{},{}]", headers={"content-type": "application/json"}
    )
    assert answer.status_code == 413
    assert "at most 3 JSON objects" in answer.json()["message"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"a":1,"a":2}', "duplicate key"),
        (b'{"a":NaN}', "expected value"),
        (b'{"a":Infinity}', "expected value"),
        (b'{"a":-Infinity}', "invalid number"),
        (b"[" * 250 + b"]" * 250, "recursion limit"),
        (b'{"a":1', "EOF"),
    ],
)
def test_bodies_that_are_not_strict_json_are_422_naming_the_place(body, reason):
    app = Starlette(routes=[Route("/echo", echo, methods=["POST"])])
    client = TestClient(BodyLimits(app, {"/echo": BodyLimit(10_000, 5)}))
    answer = client.post("/echo", content=body, headers={"content-type": "application/json"})
    assert answer.status_code == 422, answer.text
    found = answer.json()
    assert found["error"] == "invalid_json"
    assert reason in found["message"]
    assert found["details"][0]["rule"] == "json_invalid"


def test_a_body_not_declared_json_is_refused(client):
    answer = client.post("/echo", content=b'{"a":1}', headers={"content-type": "text/plain"})
    assert answer.status_code == 422
    assert "Content-Type must be application/json" in answer.json()["message"]


def test_an_empty_body_reaches_the_route_as_no_body(client):
    answer = client.post("/echo")
    assert answer.status_code == 200
    assert answer.json() == {"parsed": None, "bytes": 0}


def test_a_number_beyond_a_float_parses_as_infinity_for_the_bounds_to_refuse():
    assert parse_strict(b'{"budget_nok":1e400}') == {"budget_nok": float("inf")}
    with pytest.raises(InvalidJson):
        parse_strict(b"[" * 100_000)


def test_byte_limits_can_be_set_per_path():
    limits = body_limits({"/v1/grants/list": 8_000_000, "/v1/other": 10})
    assert limits["/v1/grants/list"].max_bytes == 8_000_000
    assert limits["/v1/grants/list"].max_objects == 20_001
    assert limits["/v1/other"].max_bytes == 10
