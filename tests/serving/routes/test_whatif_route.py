"""POST /v1/whatif and /v1/whatif/lists.csv through the app factory (the page: test_policy.py).

The registry is trained by ``training.pipeline`` on a synthetic snapshot written to disk:
version 1 is ``model_2026`` (``champion`` and ``challenger``), version 2 ``model0_2023``
(``incumbent``), version 3 the finer-bands challenger (``fine_bands``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from features.contract import load_dataset, write_dataset
from features.synth import synthesise
from serving.app import create_app
from serving.model_store import ModelStore
from serving.routes import whatif
from serving.snapshot import Snapshot
from serving.whatif import Scenario, WhatIfEngine
from tests.conftest import FAST_TRAINING
from training.pipeline import train_and_register

SEED = 2027


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """A tracking URI with model_2026 and model0_2023 registered, and the snapshot directory."""
    root = tmp_path_factory.mktemp("whatif-registry")
    data_dir = write_dataset(synthesise(20_000, SEED), root / "snapshot")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    train_and_register(
        load_dataset(data_dir, training=True),
        tracking_uri=uri,
        artifact_root=str(root / "artifacts"),
        options=FAST_TRAINING,
    )
    return uri, data_dir


@pytest.fixture(scope="module")
def snapshot(trained) -> Snapshot:
    return Snapshot.load(trained[1])


@pytest.fixture(scope="module")
def store(trained) -> ModelStore:
    return ModelStore(trained[0])


@pytest.fixture(scope="module")
def api(store: ModelStore, snapshot: Snapshot) -> Iterator[TestClient]:
    app = create_app(store, snapshot=snapshot, load_in_background=False)
    with TestClient(app) as client:
        yield client


def whatif_ok(api: TestClient, body: dict, **params) -> dict:
    response = api.post("/v1/whatif", json=body, params=params)
    assert response.status_code == 200, response.text
    return response.json()


SCENARIOS = {
    "dampened": {"dampening": 0.5},
    # A small snapshot has lists in the central classes only (1 to 3).
    "centrality": {"centrality_supplement_nok": {"2": 300, "3": 600}},
    "centrality_doubled": {"centrality_scale": 2.0},
    "education": {"education_threshold": 0.22, "education_effect_nok": 150},
    "refugee": {"refugee_rate_nok": 3000},
    "budget": {"dampening": 0.25, "budget_nok": 15_000_000},
    "rules": {"floor_persons": 900, "break_point_persons": 1100, "break_point_rate_share": 0.6},
    "model0": {"model_version": "incumbent"},
    "phase_in": {"phase_in": {"from_version": "incumbent", "share": 0.5}},
}


# -- the redistribution ---------------------------------------------------------------------------


def test_identical_scenario_changes_nothing(api):
    answer = whatif_ok(api, {}, lists="true")
    assert answer["change_total_nok"] == 0
    assert answer["scenario_total_nok"] == answer["baseline_total_nok"]
    assert (answer["winners"], answer["losers"]) == (0, 0)
    assert answer["unchanged"] == answer["lists"] == len(answer["list_page"]["rows"])
    assert {row["change_nok"] for row in answer["list_page"]["rows"]} == {0.0}
    assert all(q["change_nok"] == 0 for q in answer["distribution"])
    assert answer["baseline"] == answer["scenario_model"]
    assert answer["scenario"] == {}


def test_empty_body_is_the_identical_scenario(api):
    response = api.post("/v1/whatif")
    assert response.status_code == 200
    assert response.json()["change_total_nok"] == 0


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_winners_losers_and_unchanged_add_up_to_the_lists(api, snapshot, name):
    answer = whatif_ok(api, SCENARIOS[name])
    assert answer["winners"] + answer["losers"] + answer["unchanged"] == answer["lists"]
    assert answer["lists"] == snapshot.n_lists
    assert answer["persons"] == snapshot.n_persons
    assert sum(c["lists"] for c in answer["centrality"]) == answer["lists"]
    assert sum(c["winners"] for c in answer["centrality"]) == answer["winners"]
    in_bins = sum(b["lists"] for b in answer["histogram"])
    assert in_bins + answer["histogram_outliers_total"] == answer["lists"]


@pytest.mark.parametrize("name", sorted(set(SCENARIOS) - {"budget"}))
def test_budget_neutral_total_within_one_nok(api, name):
    answer = whatif_ok(api, SCENARIOS[name])
    assert abs(answer["scenario_total_nok"] - answer["baseline_total_nok"]) <= 1.0
    assert answer["scheme"]["budget_neutral"]
    if name == "centrality_doubled":
        # No list of a small snapshot practises in a class 5-6 kommune, the only classes with
        # a supplement under the rules: doubling it moves nothing.
        assert answer["winners"] == answer["losers"] == 0
    else:
        assert answer["winners"] > 0 and answer["losers"] > 0


def test_budget_is_spent_within_one_nok(api):
    answer = whatif_ok(api, SCENARIOS["budget"])
    assert abs(answer["scenario_total_nok"] - 15_000_000) <= 1.0
    assert answer["scheme"]["target_total_nok"] == 15_000_000


def test_rate_kept_lets_the_total_move(api):
    answer = whatif_ok(api, {"refugee_rate_nok": 50_000, "budget_neutral": False})
    assert answer["scenario_total_nok"] > answer["baseline_total_nok"] + 1
    assert answer["scenario_rate_nok"] == answer["baseline_rate_nok"]
    assert answer["scheme"]["budget_neutral"] is False
    assert answer["scheme"]["target_total_nok"] is None


def test_answer_equals_the_engine_in_process(api, snapshot, store):
    answer = whatif_ok(api, {"dampening": 0.5}, lists="true")
    dataset = snapshot.dataset
    engine = WhatIfEngine(
        dataset.persons, dataset.lists, dataset.kommuner, store.get("champion").bundle
    )
    result = engine.run(Scenario(dampening=0.5))
    assert answer["scenario_total_nok"] == result.scenario_total_nok
    assert (answer["winners"], answer["losers"]) == (result.winners, result.losers)
    expected = result.lists.set_index("list_id")["scenario_nok"].to_dict()
    assert {r["list_id"]: r["scenario_nok"] for r in answer["list_page"]["rows"]} == expected


def test_model_resolved_by_alias_version_or_name(api):
    by_alias = whatif_ok(api, {"model_version": "incumbent"})
    by_version = whatif_ok(api, {"model_version": by_alias["scenario_model"]["model_version"]})
    by_name = whatif_ok(api, {"model_version": "model0_2023"})
    assert by_alias["scenario_model"]["model_name"] == "model0_2023"
    assert by_alias["baseline"]["model_name"] == "model_2026"
    for other in (by_version, by_name):
        assert other["scenario_total_nok"] == by_alias["scenario_total_nok"]
        assert other["largest_gains"] == by_alias["largest_gains"]


def test_phase_in_blends_the_old_and_new_model(api):
    all_new = whatif_ok(api, {"phase_in": {"from_version": "incumbent", "share": 1.0}})
    all_old = whatif_ok(api, {"phase_in": {"from_version": "incumbent", "share": 0.0}})
    model0 = whatif_ok(api, {"model_version": "incumbent"})
    assert (all_new["winners"], all_new["losers"]) == (0, 0)
    assert all_old["largest_losses"] == model0["largest_losses"]
    assert all_old["phase_in_from"]["model_name"] == "model0_2023"
    assert all_old["phase_in_share"] == 0.0


def test_lists_page_through_every_list_in_list_id_order(api):
    whole = whatif_ok(api, SCENARIOS["rules"], lists="true", limit=10_000)["list_page"]
    assert whole["total"] == len(whole["rows"])
    pages = [
        whatif_ok(api, SCENARIOS["rules"], lists="true", offset=offset, limit=7)["list_page"]
        for offset in range(0, whole["total"], 7)
    ]
    assert [row for page in pages for row in page["rows"]] == whole["rows"]
    ids = [row["list_id"] for row in whole["rows"]]
    assert ids == sorted(ids)
    assert whatif_ok(api, {})["list_page"] is None


def test_lists_csv_holds_every_list(api):
    answer = whatif_ok(api, SCENARIOS["dampened"], lists="true", limit=10_000)
    response = api.post("/v1/whatif/lists.csv", json=SCENARIOS["dampened"])
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["list_id"] for r in rows] == [r["list_id"] for r in answer["list_page"]["rows"]]
    assert abs(sum(float(r["change_nok"]) for r in rows) - answer["change_total_nok"]) < 0.01 * len(
        rows
    )
    assert {r["outcome"] for r in rows} <= {"gains", "loses", "unchanged"}


def test_histogram_bins_cover_every_list_with_one_bin_centred_on_zero(api):
    answer = whatif_ok(api, SCENARIOS["dampened"])
    coarse = answer["histogram"]
    fine = whatif_ok(api, SCENARIOS["dampened"], bins=81)["histogram"]
    assert len(coarse) <= 41 and len(coarse) < len(fine) <= 81
    for bins in (coarse, fine):
        assert sum(b["lists"] for b in bins) + answer["histogram_outliers_total"] == answer["lists"]
        assert any(b["bin_low_pct"] == -b["bin_high_pct"] for b in bins)


def test_kommuner_ranked_by_the_size_of_their_change(api):
    for order in ("change_nok", "change_pct", "change_per_person_nok"):
        answer = whatif_ok(api, SCENARIOS["centrality"], kommuner=5, kommune_order=order)
        sizes = [abs(k[order]) for k in answer["kommuner"]]
        assert len(sizes) == min(5, answer["kommuner_total"])
        assert sizes == sorted(sizes, reverse=True)
    top = whatif_ok(api, SCENARIOS["centrality"], top=3)
    assert len(top["largest_gains"]) <= 3 and len(top["largest_losses"]) <= 3
    assert all(r["outcome"] == "gains" for r in top["largest_gains"])


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


# -- the served scheme stays as it is -------------------------------------------------------------


def served_answers(api: TestClient, snapshot: Snapshot) -> list:
    persons = snapshot.dataset.persons
    practice = snapshot.dataset.lists.set_index("list_id")["practice_kommune"]
    person = persons.iloc[17]
    body = {
        "age": int(person["age"]),
        "sex": str(person["sex"]),
        "grunnkrets": str(person["grunnkrets"]),
        "copayment_prev_year": float(person["copayment_prev_year"]),
        "refugee_first_year": bool(person["refugee_first_year"]),
        "practice_kommune": str(practice[person["list_id"]]),
    }
    return [
        api.post("/v1/grants/person", json=body).json(),
        api.get("/v1/grants/lists", params={"format": "csv"}).text,
        api.get("/v1/model").json(),
    ]


def test_whatif_never_changes_the_served_grants(api, snapshot):
    before = served_answers(api, snapshot)
    for name in sorted(SCENARIOS):
        whatif_ok(api, SCENARIOS[name])
    after = served_answers(api, snapshot)
    assert after == before
    assert before[0]["model_version"] == "1"


# -- engines are kept per snapshot and baseline version -------------------------------------------


def test_engine_built_once_per_snapshot_and_baseline_version(api, snapshot, store):
    whatif_ok(api, {"dampening": 0.5})
    engines = whatif.engines_of(api.app)
    champion = store.get("champion")
    first = engines.cached(snapshot, champion)
    assert first is not None
    whatif_ok(api, {"dampening": 0.4})
    assert engines.get(snapshot, champion) is first
    answer = whatif_ok(api, {}, baseline="incumbent")
    assert answer["baseline"]["model_name"] == "model0_2023"
    assert answer["change_total_nok"] == 0
    assert engines.cached(snapshot, store.get("incumbent")) is not first


def test_the_same_scenario_is_answered_from_its_kept_result(api, snapshot, store, monkeypatch):
    """Asking again, or for another page of lists, runs no new national pricing."""
    runs = []
    real_run = WhatIfEngine.run
    monkeypatch.setattr(
        WhatIfEngine, "run", lambda self, *a, **k: runs.append(1) or real_run(self, *a, **k)
    )
    body = {"dampening": 0.37, "title": "kept"}
    first = whatif_ok(api, body, lists=True, offset=0, limit=3)
    again = whatif_ok(api, body, lists=True, offset=0, limit=3)
    page = whatif_ok(api, body, lists=True, offset=3, limit=3)
    assert len(runs) == 1
    assert again == first
    assert page["list_page"]["rows"][0]["list_id"] != first["list_page"]["rows"][0]["list_id"]
    # Another scenario, another baseline or a forced fresh run each price anew, alike.
    whatif_ok(api, {**body, "dampening": 0.38})
    whatif_ok(api, body, baseline="incumbent")
    fresh = api.post(
        "/v1/whatif",
        json=body,
        params={"lists": True, "offset": 0, "limit": 3},
        headers={"Cache-Control": "no-cache"},
    )
    assert len(runs) == 4
    assert fresh.json() == first
