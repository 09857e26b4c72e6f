"""The /policy page and the what-if API's OpenAPI description, on the service as it ships."""

from __future__ import annotations


def test_policy_page_has_the_levers_and_its_assets(client):
    page = client.get("/policy")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    for lever in (
        "dampening",
        "centrality_scale",
        "centrality_nok_5",
        "centrality_nok_6",
        "education_threshold",
        "education_effect_scale",
        "refugee_rate_nok",
        "budget_mnok",
        "budget_neutral",
        "floor_persons",
        "break_point_persons",
        "break_point_rate_share",
    ):
        assert f'id="{lever}"' in page.text
    assert "model_2026" in page.text
    for asset in ("policy.js", "policy.css"):
        response = client.get(f"/static/{asset}")
        assert response.status_code == 200
        assert len(response.content) > 1000


def test_openapi_declares_the_scenario_and_the_redistribution(client):
    operation = client.get("/openapi.json").json()["paths"]["/v1/whatif"]["post"]
    spec = client.get("/openapi.json").json()
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/Scenario"}
    scenario = spec["components"]["schemas"]["Scenario"]
    assert {"dampening", "centrality_supplement_nok", "phase_in"} <= set(scenario["properties"])
    answer = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert answer == {"$ref": "#/components/schemas/Redistribution"}
    assert {"404", "422"} <= set(operation["responses"])
