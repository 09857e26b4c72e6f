"""/v1/model: the serving model's version, run, weight table and scheme."""

from __future__ import annotations


def test_model_info_names_version_run_weights_and_scheme(client, bundle, store):
    info = client.get("/v1/model").json()
    assert (info["model_version"], info["model_name"], info["model_alias"]) == (
        "1",
        "model_2026",
        "champion",
    )
    assert info["run_id"] == store.get("1").run_id
    assert info["trained_on"] == bundle.trained_on
    assert info["scheme"]["rate_nok"] == bundle.rate_nok
    assert info["scheme"]["budget_nok"] == bundle.budget_nok
    assert info["indicators"]["education_threshold"] == bundle.indicators.education_threshold
    assert len(info["weight_table"]) == len(bundle.weight_table)
    first = info["weight_table"][0]
    assert first["factor"] == "age_sex"
    assert first["effect_nok"] == bundle.weight_table["effect_nok"].iloc[0]
    reference_level = next(r for r in info["weight_table"] if r["factor"] == "health_status")
    assert reference_level["std_err"] is None  # NaN in the table, null in JSON


def test_model_info_of_a_pinned_version(client):
    info = client.get("/v1/model", params={"model_version": "challenger"}).json()
    assert (info["model_version"], info["scheme"]["dampening"]) == ("2", 0.5)


def test_model_info_of_an_unknown_version_lists_versions(client):
    response = client.get("/v1/model", params={"model_version": "9"})
    assert response.status_code == 404
    assert response.json()["available_versions"] == ["1", "2"]


def test_malformed_version_is_rejected(client):
    response = client.get("/v1/model", params={"model_version": "1; drop"})
    assert response.status_code == 422
    assert response.json()["field"] == "model_version"
