"""/v1/grants: one person, one list, the snapshot's lists and their bulk export."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from features.grants import PersonScorer, PersonTable
from features.scheme import round_nok
from tests.serving.conftest import list_body, person_body


def test_person_grant_names_model_version_and_scheme(client, tiny_dataset, bundle):
    answer = client.post("/v1/grants/person", json=person_body(tiny_dataset)).json()
    assert (answer["model_version"], answer["model_name"]) == ("1", "model_2026")
    assert answer["model_alias"] == "champion"
    assert answer["scheme"]["rate_nok"] == bundle.rate_nok
    assert answer["scheme"]["dampening"] == 0.0
    assert (answer["period"], answer["currency"]) == ("annual", "NOK")
    assert answer["monthly_nok"] == pytest.approx(answer["grant_nok"] / 12, abs=0.005)


@pytest.mark.parametrize("row", [0, 11, 999, 19_999])
def test_contributions_add_up_to_the_grant(client, tiny_dataset, row):
    answer = client.post("/v1/grants/person", json=person_body(tiny_dataset, row)).json()
    contributions = answer["contributions"]
    assert {"age_sex", "health_status", "education", "centrality", "flat"} <= set(contributions)
    assert round(sum(contributions.values()) * 100) == round(answer["grant_nok"] * 100)


@pytest.mark.parametrize("row", [0, 5, 1234, 19_999])
def test_person_alone_equals_person_inside_the_snapshot(
    client, tiny_dataset, snapshot, bundle, row
):
    answer = client.post("/v1/grants/person", json=person_body(tiny_dataset, row)).json()
    inside = snapshot.grants("1", PersonScorer(bundle))
    assert answer["grant_nok"] == round_nok(inside.grant_nok[row])
    assert answer["weight"] == inside.weight[row]


def test_list_total_equals_sum_of_person_grants(client, tiny_dataset):
    list_id = str(tiny_dataset.lists["list_id"].iloc[2])
    body = list_body(tiny_dataset, list_id)
    answer = client.post("/v1/grants/list", json=body).json()
    person_grants = [
        client.post(
            "/v1/grants/person", json={**p, "practice_kommune": body["practice_kommune"]}
        ).json()["grant_nok"]
        for p in body["persons"]
    ]
    assert answer["persons"] == len(body["persons"])
    assert abs(answer["total_nok"] - sum(person_grants)) <= 0.005 * len(person_grants)
    assert answer["model_version"] == "1"


def test_posted_list_equals_the_same_list_in_the_snapshot(client, tiny_dataset):
    list_id = str(tiny_dataset.lists["list_id"].iloc[4])
    posted = client.post("/v1/grants/list", json=list_body(tiny_dataset, list_id)).json()
    looked_up = client.get(f"/v1/grants/lists/{list_id}").json()
    assert looked_up["list_id"] == list_id
    for field in ("total_nok", "persons", "mean_weight", "practice_kommune", "model_version"):
        assert posted[field] == looked_up[field], field


def test_snapshot_lists_add_up_to_the_budget_within_one_nok(client, bundle):
    response = client.get("/v1/grants/lists", params={"format": "csv"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["x-ptb-model-version"] == "1"
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 20
    assert sum(float(row["total_nok"]) for row in rows) == pytest.approx(bundle.budget_nok, abs=1)
    assert {row["model_version"] for row in rows} == {"1"}


def test_jsonl_export_matches_the_list_look_up(client, tiny_dataset):
    response = client.get("/v1/grants/lists", params={"format": "jsonl"})
    assert response.headers["content-type"].startswith("application/x-ndjson")
    rows = [json.loads(line) for line in response.text.splitlines()]
    one = client.get(f"/v1/grants/lists/{rows[3]['list_id']}").json()
    assert rows[3]["total_nok"] == one["total_nok"]
    assert [r["list_id"] for r in rows] == sorted(tiny_dataset.lists["list_id"].astype(str))


def test_pinned_dampened_version_gives_weights_halfway_to_one(client, tiny_dataset):
    for row in (0, 7, 300):
        undamped = client.post("/v1/grants/person", json=person_body(tiny_dataset, row)).json()
        pinned = person_body(tiny_dataset, row, model_version="2")
        dampened = client.post("/v1/grants/person", json=pinned).json()
        assert dampened["model_version"] == "2"
        assert dampened["scheme"]["dampening"] == 0.5
        assert dampened["weight"] == pytest.approx((undamped["weight"] + 1) / 2, rel=1e-12)


def test_pinned_alias_and_query_version(client, tiny_dataset):
    by_alias = client.post(
        "/v1/grants/person", json=person_body(tiny_dataset, model_version="challenger")
    ).json()
    assert (by_alias["model_version"], by_alias["model_alias"]) == ("2", "challenger")
    list_id = str(tiny_dataset.lists["list_id"].iloc[0])
    looked_up = client.get(f"/v1/grants/lists/{list_id}", params={"model_version": "2"}).json()
    assert looked_up["model_version"] == "2"
    assert looked_up["mean_weight"] == pytest.approx(
        (client.get(f"/v1/grants/lists/{list_id}").json()["mean_weight"] + 1) / 2, rel=1e-12
    )


def test_same_request_same_answer(client, tiny_dataset):
    body = person_body(tiny_dataset, 42)
    answers = {json.dumps(client.post("/v1/grants/person", json=body).json()) for _ in range(3)}
    assert len(answers) == 1


REJECTIONS = [
    # (what is wrong, the change, status, field named, rule or error kind)
    ("unknown grunnkrets", {"grunnkrets": "99999999"}, 422, "grunnkrets", "unknown_code"),
    (
        "unknown practice kommune",
        {"practice_kommune": "9999"},
        422,
        "practice_kommune",
        "unknown_code",
    ),
    ("age above 120", {"age": 121}, 422, "age", "less_than_equal"),
    ("negative age", {"age": -1}, 422, "age", "greater_than_equal"),
    ("age as text", {"age": "44"}, 422, "age", "int_type"),
    ("sex not F or M", {"sex": "X"}, 422, "sex", "literal_error"),
    (
        "negative copayment",
        {"copayment_prev_year": -1.0},
        422,
        "copayment_prev_year",
        "greater_than_equal",
    ),
    ("numeric kommune code", {"practice_kommune": 301}, 422, "practice_kommune", "string_type"),
    ("numeric grunnkrets code", {"grunnkrets": 3010101}, 422, "grunnkrets", "string_type"),
    ("short grunnkrets", {"grunnkrets": "0301"}, 422, "grunnkrets", "string_pattern_mismatch"),
    ("refugee as text", {"refugee_first_year": "yes"}, 422, "refugee_first_year", "bool_type"),
    ("unknown field", {"copayment": 10.0}, 422, "copayment", "extra_forbidden"),
]


@pytest.mark.parametrize(
    ("change", "status", "field", "kind"),
    [r[1:] for r in REJECTIONS],
    ids=[r[0] for r in REJECTIONS],
)
def test_rejected_person_requests_name_field_and_rule(
    client, tiny_dataset, change, status, field, kind
):
    response = client.post("/v1/grants/person", json=person_body(tiny_dataset, **change))
    assert response.status_code == status
    error = response.json()
    assert error["field"] == field
    assert error["message"]
    if kind == "unknown_code":
        assert error["error"] == "unknown_code"
        assert error["codes"] == [str(next(iter(change.values())))]
    else:
        assert error["error"] == "validation_error"
        assert error["details"][0]["rule"] == kind


@pytest.mark.parametrize(
    ("change", "status", "field", "kind"),
    [r[1:] for r in REJECTIONS],
    ids=[r[0] for r in REJECTIONS],
)
def test_a_list_rejects_what_a_person_request_rejects(
    client, tiny_dataset, change, status, field, kind
):
    """The same rule, named at the list level or at the person's position in the list."""
    list_id = str(tiny_dataset.lists["list_id"].iloc[0])
    body = list_body(tiny_dataset, list_id)
    if field == "practice_kommune":
        body.update(change)
        where = "practice_kommune"
    else:
        body["persons"][2].update(change)
        where = "persons.grunnkrets" if kind == "unknown_code" else f"persons.2.{field}"
    response = client.post("/v1/grants/list", json=body)
    assert response.status_code == status
    error = response.json()
    assert error["field"] == where
    assert error["error"] == ("unknown_code" if kind == "unknown_code" else "validation_error")
    if kind != "unknown_code":
        assert error["details"][0]["rule"] == kind


BODY_REJECTIONS = [
    # (what is wrong, body, content type, error kind, rule)
    ("not JSON", b'{"age": 44,', "application/json", "invalid_json", "json_invalid"),
    (
        "not UTF-8",
        '{"sex": "\xe6"}'.encode("latin-1"),
        "application/json",
        "invalid_json",
        "json_invalid",
    ),
    ("empty", b"", "application/json", "invalid_json", "json_invalid"),
    ("an array", b"[]", "application/json", "validation_error", "model_type"),
    ("sent as text", b"{}", "text/plain", "validation_error", "content_type"),
    ("no content type", b"{}", None, "validation_error", "content_type"),
]


@pytest.mark.parametrize("path", ["/v1/grants/person", "/v1/grants/list"])
@pytest.mark.parametrize(
    ("body", "content_type", "error", "rule"),
    [r[1:] for r in BODY_REJECTIONS],
    ids=[r[0] for r in BODY_REJECTIONS],
)
def test_a_body_that_is_not_a_json_object_is_named_as_the_body(
    client, path, body, content_type, error, rule
):
    headers = {"content-type": content_type} if content_type else {}
    response = client.post(path, content=body, headers=headers)
    assert response.status_code == 422
    answer = response.json()
    assert (answer["error"], answer["field"]) == (error, "body")
    assert answer["details"][0]["rule"] == rule
    assert answer["message"]


def test_json_with_a_charset_parameter_is_accepted(client, tiny_dataset):
    body = json.dumps(person_body(tiny_dataset)).encode()
    headers = {"content-type": "application/json; charset=utf-8"}
    assert client.post("/v1/grants/person", content=body, headers=headers).status_code == 200


def test_openapi_documents_both_grant_bodies(client):
    spec = client.get("/openapi.json").json()
    components = spec["components"]["schemas"]
    for path, name, fields in (
        ("/v1/grants/person", "PersonIn", {"age", "sex", "grunnkrets", "practice_kommune"}),
        ("/v1/grants/list", "ListIn", {"practice_kommune", "persons"}),
    ):
        body = spec["paths"][path]["post"]["requestBody"]
        assert body["content"]["application/json"]["schema"] == {
            "$ref": f"#/components/schemas/{name}"
        }
        assert body["required"] is True
        schema = components[name]
        assert fields <= set(schema["required"])
        assert schema["additionalProperties"] is False
    persons = schema["properties"]["persons"]
    assert persons["minItems"] == 1
    assert persons["items"] == {"$ref": "#/components/schemas/ListPersonIn"}
    assert {"age", "grunnkrets"} <= set(components["ListPersonIn"]["required"])


def test_missing_field_is_named(client, tiny_dataset):
    body = person_body(tiny_dataset)
    del body["sex"]
    error = client.post("/v1/grants/person", json=body).json()
    assert (error["field"], error["details"][0]["rule"]) == ("sex", "missing")


def test_list_of_zero_persons_is_rejected(client):
    response = client.post("/v1/grants/list", json={"practice_kommune": "0301", "persons": []})
    assert response.status_code == 422
    assert response.json()["details"][0] == {
        "field": "persons",
        "rule": "too_short",
        "message": "List should have at least 1 item after validation, not 0",
    }


def test_bad_person_inside_a_list_is_named_by_position(client, tiny_dataset):
    list_id = str(tiny_dataset.lists["list_id"].iloc[0])
    body = list_body(tiny_dataset, list_id)
    body["persons"][3]["age"] = 130
    body["persons"][5]["grunnkrets"] = "99999999"
    error = client.post("/v1/grants/list", json=body).json()
    assert error["field"] == "persons.3.age"
    del body["persons"][3]
    response = client.post("/v1/grants/list", json=body)
    assert response.status_code == 422
    assert (response.json()["field"], response.json()["codes"]) == (
        "persons.grunnkrets",
        ["99999999"],
    )


@pytest.mark.parametrize("version", ["7", 7, "no-such-alias"])
def test_unknown_model_version_is_404_listing_versions(client, tiny_dataset, version):
    response = client.post(
        "/v1/grants/person", json=person_body(tiny_dataset, model_version=version)
    )
    assert response.status_code == 404
    error = response.json()
    assert error["error"] == "model_not_found"
    assert error["available_versions"] == ["1", "2"]


def test_unknown_list_is_404(client):
    response = client.get("/v1/grants/lists/NO-SUCH-LIST")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_bad_export_format_is_rejected(client):
    response = client.get("/v1/grants/lists", params={"format": "xlsx"})
    assert response.status_code == 422
    assert response.json()["field"] == "format"


def test_list_look_up_matches_in_process_pricing(client, tiny_dataset, bundle):
    list_id = str(tiny_dataset.lists["list_id"].iloc[1])
    answer = client.get(f"/v1/grants/lists/{list_id}").json()
    on_list = (tiny_dataset.persons["list_id"] == list_id).to_numpy()
    grants = PersonScorer(bundle).score(PersonTable.from_dataset(tiny_dataset).columns)
    assert answer["total_nok"] == pytest.approx(np.sum(grants.grant_nok[on_list]), abs=0.01)
    assert answer["persons"] == on_list.sum()
