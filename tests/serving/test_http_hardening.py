"""What a careless or hostile client meets at the HTTP layer, in process (production mode):
security headers on every answer, offline API docs, /policy URLs not built from Host, strict
JSON on every POST route, strict what-if input, repeated query parameters, bounded amounts,
and the key checks' timing and threads. Behaviour that needs a real server is in
``test_hostile_http.py``."""

from __future__ import annotations

import csv
import io
import json
import threading
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from features import write_dataset
from serving.access import KeyRing
from serving.access import keys as keys_module
from serving.access.keys import QUEUED_CHECKS
from serving.snapshot import Snapshot
from serving.whatif import Scenario
from serving.whatif.scenario import parse_scenario
from tests.serving.conftest import list_body, person_body, production_app

POST_ROUTES = ("/v1/grants/person", "/v1/grants/list", "/v1/whatif", "/v1/admin/reload")
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


@pytest.fixture(scope="module")
def hostile_snapshot(tiny_dataset, tmp_path_factory) -> Snapshot:
    """The tiny data set with a list id and a kommune name a spreadsheet would run."""
    lists = tiny_dataset.lists.copy()
    persons = tiny_dataset.persons.copy()
    kommuner = tiny_dataset.kommuner.copy()
    old = str(lists.loc[0, "list_id"])
    lists["list_id"] = lists["list_id"].astype(object)
    persons["list_id"] = persons["list_id"].astype(object)
    lists.loc[0, "list_id"] = '=HYPERLINK("http://x","L,1")'
    persons.loc[persons["list_id"] == old, "list_id"] = '=HYPERLINK("http://x","L,1")'
    kommune = lists.loc[0, "practice_kommune"]
    kommuner["name"] = kommuner["name"].astype(object)
    kommuner.loc[kommuner["kommune"] == kommune, "name"] = "@SUM(A1:A9)"
    dataset = type(tiny_dataset)(persons, lists, kommuner, tiny_dataset.grunnkretser)
    return Snapshot.load(write_dataset(dataset, tmp_path_factory.mktemp("hostile-snapshot")))


@pytest.fixture(scope="module")
def client(store, hostile_snapshot, role_keys, tmp_path_factory) -> Iterator[TestClient]:
    audit = tmp_path_factory.mktemp("hardening-audit") / "audit.jsonl"
    app = production_app(store, KeyRing.load(role_keys[0]), audit, snapshot=hostile_snapshot)

    @app.get("/v1/model/boom", include_in_schema=False)
    async def boom() -> None:
        raise RuntimeError("an unexpected fault")

    with TestClient(app, raise_server_exceptions=False) as started:
        yield started


def auth(role_keys, role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {role_keys[1][role]}"}


# -- headers -----------------------------------------------------------------------------------


def test_every_answer_carries_the_security_headers(client, role_keys, tiny_dataset):
    answers = [
        client.get("/healthz"),
        client.get("/v1/model", headers=auth(role_keys, "payment")),  # 200
        client.get("/v1/model"),  # 401
        client.post("/v1/admin/reload", headers=auth(role_keys, "payment")),  # 403
        client.get("/no/such/page"),  # 404
        client.post("/v1/grants/person", content=b"{", headers=auth(role_keys, "payment")),  # 422
        client.post(
            "/v1/grants/person", content=b"x" * 10_000, headers=auth(role_keys, "payment")
        ),  # 413
        client.get("/v1/model/boom", headers=auth(role_keys, "payment")),  # 500
        client.get("/policy"),
        client.get("/docs"),
        client.get("/static/policy.js"),
    ]
    assert [a.status_code for a in answers] == [
        200, 200, 401, 403, 404, 422, 413, 500, 200, 200, 200,
    ]  # fmt: skip
    for answer in answers:
        for name, value in SECURITY_HEADERS.items():
            assert answer.headers.get(name) == value, (answer.request.url, name)
        policy = answer.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy and "default-src 'none'" in policy
    assert "'unsafe-inline'" not in answers[8].headers["content-security-policy"]  # /policy


def test_the_api_docs_are_served_by_the_service_itself(client):
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "cdn.jsdelivr.net" not in docs.text and "unpkg.com" not in docs.text
    assert "/static-offline-docs/swagger-ui-bundle.js" in docs.text
    redoc = client.get("/redoc")
    assert "fonts.googleapis.com" not in redoc.text and "cdn" not in redoc.text
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js"):
        served = client.get(f"/static-offline-docs/{asset}")
        assert served.status_code == 200 and len(served.content) > 10_000


def test_the_policy_page_never_builds_urls_from_the_host_header(client):
    page = client.get("/policy", headers={"Host": "evil.example"})
    assert page.status_code == 200
    assert "evil.example" not in page.text
    assert 'src="/static/policy.js?v=' in page.text
    assert 'href="/static/policy.css?v=' in page.text
    assert '"whatif_url": "/v1/whatif"' in page.text
    assert '"keys_required": true' in page.text
    assert 'id="api-key-form"' in page.text
    assert 'name="api-key"' not in page.text  # a nameless input is never submitted in a URL


def test_behind_a_proxy_that_adds_the_key_the_page_does_not_ask_for_one(client, role_keys):
    _, by_role = role_keys
    page = client.get("/policy", headers={"Authorization": f"Bearer {by_role['policy']}"})
    assert page.status_code == 200 and '"keys_required": false' in page.text


# -- strict JSON on every POST route -------------------------------------------------------------


@pytest.mark.parametrize("path", POST_ROUTES)
@pytest.mark.parametrize(
    ("body", "found"),
    [
        (b'{"age": 44, "age": 120}', "duplicate key"),
        (b'{"dampening": NaN}', "expected value"),
        (b'{"model": Infinity}', "expected value"),
        (b"[" * 5000 + b"]" * 5000, "recursion limit"),
    ],
    ids=["duplicate key", "NaN", "Infinity", "deep"],
)
def test_every_post_route_refuses_json_that_is_not_strict(client, role_keys, path, body, found):
    answer = client.post(
        path, content=body, headers={**auth(role_keys, "admin"), "content-type": "application/json"}
    )
    assert answer.status_code in (413, 422), answer.text
    if answer.status_code == 422:
        assert answer.json()["error"] == "invalid_json"
        assert found in answer.json()["message"]


def test_a_duplicated_key_in_a_person_is_refused_not_last_wins(client, role_keys, tiny_dataset):
    person = person_body(tiny_dataset, sex="F")
    text = json.dumps(person)[:-1] + ', "sex": "M"}'  # the last one would win
    answer = client.post(
        "/v1/grants/person",
        content=text.encode(),
        headers={**auth(role_keys, "payment"), "content-type": "application/json"},
    )
    assert answer.status_code == 422
    assert 'duplicate key "sex"' in answer.json()["message"]


@pytest.mark.parametrize("copayment", [1e300, 1_000_000.01])
def test_an_absurd_copayment_is_refused(client, role_keys, tiny_dataset, copayment):
    person = client.post(
        "/v1/grants/person",
        json=person_body(tiny_dataset, copayment_prev_year=copayment),
        headers=auth(role_keys, "payment"),
    )
    assert person.status_code == 422
    assert person.json()["details"][0]["rule"] == "less_than_equal"
    list_id = str(tiny_dataset.lists["list_id"].iloc[1])
    listed = list_body(tiny_dataset, list_id)
    listed["persons"][0]["copayment_prev_year"] = copayment
    answer = client.post("/v1/grants/list", json=listed, headers=auth(role_keys, "payment"))
    assert answer.status_code == 422
    assert answer.json()["field"] == "persons.0.copayment_prev_year"


def test_a_query_parameter_given_twice_is_refused(client, role_keys, tiny_dataset):
    list_id = str(tiny_dataset.lists["list_id"].iloc[1])
    answer = client.get(
        f"/v1/grants/lists/{list_id}?model_version=1&model_version=2",
        headers=auth(role_keys, "payment"),
    )
    assert answer.status_code == 422
    assert answer.json()["details"][0] == {
        "field": "model_version",
        "rule": "repeated_parameter",
        "message": "given more than once",
    }
    once = client.get(
        f"/v1/grants/lists/{list_id}?model_version=1", headers=auth(role_keys, "payment")
    )
    assert once.status_code == 200


# -- what-if --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type", "field"),
    [
        (b'{"dampening": 0.5}', "text/plain", "body"),
        (b'{"dampening": "0.5"}', "application/json", "dampening"),
        (b'{"refugee_rate_nok": 1e400}', "application/json", "refugee_rate_nok"),
        (b'{"budget_nok": 1e308}', "application/json", "budget_nok"),
        (b'{"centrality_scale": 1e300}', "application/json", "centrality_scale"),
        (b'{"floor_persons": 1000000000}', "application/json", "floor_persons"),
        (b'{"budget_neutral": 1}', "application/json", "budget_neutral"),
    ],
)
def test_what_if_refuses_what_the_grant_routes_refuse(client, role_keys, body, content_type, field):
    for no_cache in ({}, {"Cache-Control": "no-cache"}):
        answer = client.post(
            "/v1/whatif",
            content=body,
            headers={**auth(role_keys, "policy"), "content-type": content_type, **no_cache},
        )
        assert answer.status_code == 422, answer.text
        assert answer.json()["field"] == field


def test_what_if_infinity_is_not_answered_as_the_baseline(client, role_keys):
    answer = client.post(
        "/v1/whatif",
        content=b'{"refugee_rate_nok": Infinity}',
        headers={**auth(role_keys, "policy"), "content-type": "application/json"},
    )
    assert answer.status_code == 422
    assert answer.json()["error"] == "invalid_json"


def test_the_cache_key_is_the_canonical_validated_scenario():
    same = [
        parse_scenario({"dampening": 0.5, "budget_neutral": True}),
        parse_scenario({"budget_neutral": True, "dampening": 0.50}),
        parse_scenario({"dampening": 5e-1}),
    ]
    assert len({scenario.canonical() for scenario in same}) == 1
    assert Scenario().canonical() != parse_scenario({"refugee_rate_nok": 0.0}).canonical()
    assert Scenario().canonical() != same[0].canonical()


# -- CSV exports ----------------------------------------------------------------------------------


def test_the_settlement_csv_is_quoted_and_defused(client, role_keys, hostile_snapshot):
    answer = client.get("/v1/grants/lists?format=csv", headers=auth(role_keys, "payment"))
    assert answer.status_code == 200
    rows = list(csv.reader(io.StringIO(answer.text)))
    assert len(rows) == 1 + hostile_snapshot.n_lists  # no forged or split rows
    assert all(len(row) == len(rows[0]) for row in rows)
    cells = {row[0] for row in rows[1:]}
    assert '\'=HYPERLINK("http://x","L,1")' in cells
    assert not any(cell.startswith(("=", "+", "@")) for row in rows for cell in row)


def test_the_what_if_csv_is_quoted_and_defused(client, role_keys, hostile_snapshot):
    answer = client.post(
        "/v1/whatif/lists.csv", json={"dampening": 0.5}, headers=auth(role_keys, "policy")
    )
    assert answer.status_code == 200, answer.text
    rows = list(csv.reader(io.StringIO(answer.text)))
    assert len(rows) == 1 + hostile_snapshot.n_lists
    names = {row[2] for row in rows[1:]}
    assert "'@SUM(A1:A9)" in names
    assert not any(cell.startswith(("=", "+", "@")) for row in rows for cell in row)


# -- key checks -----------------------------------------------------------------------------------


def test_an_unknown_key_id_costs_one_hash_as_a_known_one_does(role_keys, monkeypatch):
    ring = KeyRing.load(role_keys[0])
    hashed: list[str] = []
    real = keys_module.check_secret
    monkeypatch.setattr(
        keys_module, "check_secret", lambda key, stored: hashed.append(key) or real(key, stored)
    )
    for key in ("ptb.settlement.wrong-secret-aaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                "ptb.nosuchid.wrong-secret-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"):  # fmt: skip
        with pytest.raises(keys_module.AuthenticationError):
            ring.authenticate(key)
    assert len(hashed) == 2  # the unknown id was hashed against a decoy, as long as the known


def test_keys_are_hashed_off_the_pool_that_serves_requests(role_keys, monkeypatch):
    import asyncio

    ring = KeyRing.load(role_keys[0])
    threads: list[str] = []
    real = KeyRing.authenticate

    def recording(self, key):
        threads.append(threading.current_thread().name)
        return real(self, key)

    monkeypatch.setattr(KeyRing, "authenticate", recording)
    caller = asyncio.run(ring.authenticate_off_loop(role_keys[1]["payment"]))
    assert caller.key_id == "settlement"
    assert threads and threads[0].startswith("ptb-key-check")


def test_a_flood_of_unverified_keys_is_refused_rather_than_queued(role_keys):
    import asyncio

    ring = KeyRing.load(role_keys[0])
    ring._queued = QUEUED_CHECKS  # as many role_keys waiting for a hashing thread as are allowed
    with pytest.raises(keys_module.AuthenticationError) as refused:
        asyncio.run(ring.authenticate_off_loop("ptb.settlement.another-guess"))
    assert refused.value.reason == "busy"
