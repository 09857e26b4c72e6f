"""Reading a JSON body: the same 422 answers as FastAPI's own body parsing, on any route."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from serving.error_responses import add_error_handlers
from serving.json_body import read_json_body, read_json_value
from serving.schemas import ReloadIn
from serving.schemas.common import StrictRequest


class Order(StrictRequest):
    item: str
    count: int


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    app = FastAPI()
    add_error_handlers(app)

    @app.post("/order")
    async def order(request: Request) -> dict:
        return (await read_json_body(request, Order)).model_dump()

    @app.post("/optional")
    async def optional(request: Request) -> dict:
        return (await read_json_body(request, ReloadIn, empty=ReloadIn())).model_dump()

    @app.post("/value")
    async def value(request: Request) -> dict:
        return {"value": await read_json_value(request, empty={})}

    with TestClient(app) as test_client:
        yield test_client


def test_a_valid_body_is_the_model(client):
    assert client.post("/order", json={"item": "a", "count": 2}).json() == {
        "item": "a",
        "count": 2,
    }


def test_field_errors_name_the_field_under_the_body(client):
    answer = client.post("/order", json={"item": "a", "count": "two", "colour": 1}).json()
    assert answer["error"] == "validation_error"
    assert {(d["field"], d["rule"]) for d in answer["details"]} == {
        ("count", "int_parsing"),
        ("colour", "extra_forbidden"),
    }


@pytest.mark.parametrize("path", ["/order", "/value"])
def test_a_body_that_is_not_json_is_invalid_json(client, path):
    response = client.post(path, content=b'{"item": ', headers={"content-type": "application/json"})
    assert response.status_code == 422
    answer = response.json()
    assert (answer["error"], answer["field"]) == ("invalid_json", "body")
    assert answer["details"][0]["rule"] == "json_invalid"
    assert answer["message"].startswith("body is not valid JSON: ")


def test_a_body_that_is_not_utf8_is_invalid_json(client):
    response = client.post("/value", content=b'{"a": "\xff"}')
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_json"


def test_a_body_that_says_it_is_not_json_is_refused(client):
    response = client.post("/order", content=b"item=a", headers={"content-type": "text/plain"})
    assert response.status_code == 422
    answer = response.json()
    assert answer["details"][0]["rule"] == "content_type"
    assert "text/plain" in answer["message"]


@pytest.mark.parametrize("content", [b"", b"  ", b"null"])
def test_an_optional_body_may_be_left_out(client, content):
    response = client.post("/optional", content=content)
    assert response.status_code == 200
    assert response.json() == {"model": None}


def test_an_empty_value_body_is_the_empty_value(client):
    assert client.post("/value", content=b"").json() == {"value": {}}
    assert client.post("/value", json=[1, 2]).json() == {"value": [1, 2]}
