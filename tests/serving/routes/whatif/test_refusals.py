"""What-if requests refused: the field named, the same 422 as every route, 404 for a model or
a snapshot that is not there."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from serving.app import create_app

# -- refusals -------------------------------------------------------------------------------------

REFUSED = {
    "unknown_field": ({"colour": "red"}, "colour"),
    "dampening_above_1": ({"dampening": 1.5}, "dampening"),
    "dampening_not_a_number": ({"dampening": "half"}, "dampening"),
    "negative_budget": ({"budget_nok": -1}, "budget_nok"),
    "negative_refugee_rate": ({"refugee_rate_nok": -5}, "refugee_rate_nok"),
    "threshold_above_1": ({"education_threshold": 2}, "education_threshold"),
    "centrality_class_unknown": (
        {"centrality_supplement_nok": {"7": 100}},
        "centrality_supplement_nok[7]",
    ),
    "centrality_supplement_negative": (
        {"centrality_supplement_nok": {"5": -1}},
        "centrality_supplement_nok[5]",
    ),
    "centrality_scale_and_nok": (
        {"centrality_scale": 2, "centrality_supplement_nok": {"5": 100}},
        "centrality_supplement_nok",
    ),
    "education_scale_and_nok": (
        {"education_effect_scale": 2, "education_effect_nok": 100},
        "education_effect_nok",
    ),
    "budget_without_neutrality": ({"budget_nok": 1e7, "budget_neutral": False}, "budget_nok"),
    "break_point_alone": ({"break_point_persons": 1500}, "break_point_rate_share"),
    "floor_above_break_point": (
        {"floor_persons": 2000, "break_point_persons": 1500, "break_point_rate_share": 0.5},
        "floor_persons",
    ),
    "floor_not_whole": ({"floor_persons": 1.5}, "floor_persons"),
    "phase_in_share_above_1": (
        {"phase_in": {"from_version": "incumbent", "share": 2}},
        "phase_in.share",
    ),
    "phase_in_unknown_field": (
        {"phase_in": {"from_version": "incumbent", "share": 0.5, "years": 2}},
        "phase_in.years",
    ),
    "supplements_above_budget": (
        {"budget_nok": 1000, "centrality_supplement_nok": {str(c): 1e6 for c in range(2, 7)}},
        "budget_nok",
    ),
    "not_a_mapping": ([0.5], "body"),
}


@pytest.mark.parametrize("kind", sorted(REFUSED))
def test_refused_scenario_gives_422_naming_the_field(api, kind):
    body, field = REFUSED[kind]
    for path in ("/v1/whatif", "/v1/whatif/lists.csv"):
        response = api.post(path, json=body)
        assert response.status_code == 422, response.text
        answer = response.json()
        assert answer["error"] == "invalid_scenario"
        assert answer["field"] == field
        assert field in answer["message"] or field == "body"
        assert answer["details"][0]["field"] == field


def test_body_that_is_not_json_gives_the_same_422_as_every_route(api, tiny_dataset):
    bad = {"content": b"{dampening: 0.5", "headers": {"content-type": "application/json"}}
    answer = api.post("/v1/whatif", **bad).json()
    grants = api.post("/v1/grants/person", **bad).json()
    for refused in (answer, grants):  # the parsers word it differently; kind and rule agree
        assert refused["error"] == "invalid_json"
        assert refused["field"] == "body"
        assert [(d["field"], d["rule"]) for d in refused["details"]] == [("body", "json_invalid")]
    assert answer["message"].startswith("body is not valid JSON: ")


def test_a_bool_where_a_number_is_asked_is_refused(api):
    response = api.post("/v1/whatif", json={"dampening": True})
    assert response.status_code == 422
    assert response.json()["details"] == [
        {"field": "dampening", "rule": "invalid_scenario", "message": "must be a number"}
    ]


@pytest.mark.parametrize(
    ("body", "params", "field"),
    [
        ({"model_version": "99"}, {}, "model_version"),
        ({"model_version": "no_such_model"}, {}, "model_version"),
        ({"phase_in": {"from_version": "98", "share": 0.5}}, {}, "phase_in.from_version"),
        ({}, {"baseline": "97"}, "baseline"),
    ],
)
def test_unknown_model_version_gives_404_listing_versions(api, body, params, field):
    response = api.post("/v1/whatif", json=body, params=params)
    assert response.status_code == 404, response.text
    answer = response.json()
    assert answer["error"] == "model_not_found"
    assert answer["field"] == field
    assert answer["available_versions"] == ["1", "2", "3"]


def test_whatif_needs_a_snapshot(store):
    app = create_app(store, load_in_background=False)
    with TestClient(app) as client:
        response = client.post("/v1/whatif", json={"dampening": 0.5})
        page = client.get("/policy")
    assert response.status_code == 404
    assert response.json()["error"] == "no_snapshot"
    assert "without a registry snapshot" in response.json()["message"]
    assert page.status_code == 200
    assert "No registry snapshot" in page.text
