"""Payment answers carry the whole basistilskudd, and the scheme date picks the rule's model."""

from __future__ import annotations

import csv
import io
from dataclasses import replace

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from features.contract import Dataset, validate_dataset
from features.scheme import round_nok
from serving.app import create_app
from serving.model_store import ModelStore
from serving.snapshot import Snapshot
from tests.serving.conftest import list_body, register_bundle
from training.fit import calibrate

RATE = 841.80
BEFORE, AFTER = "2026-03-01", "2026-11-30"  # under the 2023 rule, under the 2026 rule
EMPTY = "LEMPTY"


@pytest.fixture(scope="module")
def facts(tiny_dataset: Dataset) -> dict:
    """The tiny data set's first list made a utjamning case; an empty new list beside it."""
    lists = tiny_dataset.lists.copy()
    small = str(lists.loc[0, "practice_kommune"])
    mine = lists["practice_kommune"] == small
    lists.loc[mine, "form_of_practice"] = "self_employed"
    empty = pd.DataFrame(
        {
            "list_id": [EMPTY],
            "practice_kommune": [small],
            "form_of_practice": ["salaried"],
            "list_cap": [600],
            "agreement_start": [pd.Timestamp("2026-02-01")],
        }
    )
    lists = pd.concat([lists, empty], ignore_index=True)
    kommuner = tiny_dataset.kommuner.copy()
    kommuner.loc[kommuner["kommune"] == small, "population"] = 3_000
    dataset = validate_dataset(replace(tiny_dataset, lists=lists, kommuner=kommuner))
    counts = dataset.persons["list_id"].value_counts()
    mine = dataset.lists["practice_kommune"] == small
    average = dataset.lists.loc[mine, "list_id"].map(counts).fillna(0).mean()
    assert average < 1200
    return {"dataset": dataset, "kommune": small, "average": float(average)}


@pytest.fixture(scope="module")
def payments_client(tiny_dataset, facts, tmp_path_factory):
    """The API with model_2026 as champion and model 0 as incumbent, on the facts snapshot."""
    root = tmp_path_factory.mktemp("payments-registry")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    models = (
        ("model_2026", "champion"),
        ("model0_2023", "incumbent"),
        ("model_2026_fine_bands", "fine_bands"),
    )
    for name, alias in models:
        register_bundle(uri, root / "artifacts", calibrate(tiny_dataset, name=name).bundle, alias)
    store = ModelStore(uri, cache_dir=root / "cache")
    snapshot = Snapshot(facts["dataset"], source="facts")
    app = create_app(store, snapshot=snapshot, load_in_background=False, freeze_gc=False)
    with TestClient(app) as client:
        yield client


def _lookup(client, list_id: str, **params) -> dict:
    response = client.get(f"/v1/grants/lists/{list_id}", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_before_july_2026_model0_pays_with_utjamningstilskudd(payments_client, facts):
    first = str(facts["dataset"].lists.loc[0, "list_id"])
    answer = _lookup(payments_client, first, scheme_date=BEFORE)
    assert (answer["rule"], answer["model_name"]) == ("model0_2023", "model0_2023")
    assert answer["utjamningstilskudd_nok"] == pytest.approx(
        round_nok(RATE * (1200 - facts["average"])), abs=0.01
    )
    assert answer["ptb_grant_nok"] == answer["total_nok"]
    lines = answer["ptb_grant_nok"] + answer["grunntilskudd_nok"] + answer["utjamningstilskudd_nok"]
    assert answer["basistilskudd_nok"] == pytest.approx(lines, abs=0.01)
    assert answer["not_computable"] == []


def test_from_july_2026_the_2026_rule_pays_and_there_is_no_utjamning(payments_client, facts):
    first = str(facts["dataset"].lists.loc[0, "list_id"])
    answer = _lookup(payments_client, first, scheme_date=AFTER)
    assert (answer["rule"], answer["model_name"]) == ("model_2026", "model_2026")
    assert answer["utjamningstilskudd_nok"] == 0.0
    assert answer["basistilskudd_nok"] == pytest.approx(
        answer["ptb_grant_nok"] + answer["grunntilskudd_nok"], abs=0.01
    )
    today = _lookup(payments_client, first)  # no date: today, 30 November 2026 or later
    assert today["rule"] == "model_2026"


@pytest.mark.parametrize("scheme_date", [BEFORE, AFTER])
def test_an_empty_new_list_with_a_cap_of_600_gets_the_whole_floor(payments_client, scheme_date):
    answer = _lookup(payments_client, EMPTY, scheme_date=scheme_date)
    assert answer["persons"] == 0 and answer["ptb_grant_nok"] == 0.0
    assert answer["grunntilskudd_nok"] == pytest.approx(500 * RATE)
    assert answer["utjamningstilskudd_nok"] == 0.0  # a salaried GP
    assert answer["basistilskudd_nok"] == pytest.approx(500 * RATE)


def test_the_settlement_export_carries_the_three_lines_and_their_total(payments_client):
    response = payments_client.get("/v1/grants/lists", params={"scheme_date": BEFORE})
    assert response.status_code == 200
    assert response.headers["x-ptb-scheme-date"] == BEFORE
    rows = list(csv.DictReader(io.StringIO(response.text)))
    for row in rows:
        lines = sum(
            float(row[c]) for c in ("ptb_grant_nok", "grunntilskudd_nok", "utjamningstilskudd_nok")
        )
        assert float(row["basistilskudd_nok"]) == pytest.approx(lines, abs=0.015)
        assert row["rule"] == "model0_2023"
    assert any(float(r["utjamningstilskudd_nok"]) > 0 for r in rows)
    assert {r["list_id"] for r in rows if float(r["grunntilskudd_nok"]) > 0} == {EMPTY}
    jsonl = payments_client.get("/v1/grants/lists", params={"format": "jsonl"})
    assert '"scheme_date"' in jsonl.text and '"basistilskudd_nok"' in jsonl.text


def test_a_posted_short_new_list_is_topped_up_and_a_missing_cap_is_named(
    payments_client, tiny_dataset, facts
):
    first = str(facts["dataset"].lists.loc[0, "list_id"])
    body = list_body(tiny_dataset, first)
    body["persons"] = body["persons"][:3]
    new = {"list_cap": 600, "agreement_start": "2026-01-15", "form_of_practice": "salaried"}
    answer = payments_client.post("/v1/grants/list", json={**body, **new, "scheme_date": AFTER})
    assert answer.status_code == 200, answer.text
    paid = answer.json()
    assert paid["grunntilskudd_nok"] == pytest.approx(500 * RATE - paid["ptb_grant_nok"], abs=0.01)
    assert paid["basistilskudd_nok"] == pytest.approx(500 * RATE, abs=0.01)
    bare = payments_client.post("/v1/grants/list", json={**body, "scheme_date": BEFORE}).json()
    assert bare["model_name"] == "model0_2023"
    assert bare["grunntilskudd_nok"] is None and bare["basistilskudd_nok"] is None
    assert "grunntilskudd: lists.list_cap is missing" in bare["not_computable"]
    assert "utjamningstilskudd: lists.form_of_practice is missing" in bare["not_computable"]


def test_the_scheme_names_u_and_the_class_5_6_supplement(payments_client):
    scheme = payments_client.get("/v1/model").json()["scheme"]
    assert set(scheme) >= {"utjamning_moved_nok", "centrality_strengthening_nok"}


def test_a_model_of_the_other_rule_is_refused_for_the_date(payments_client, facts):
    first = str(facts["dataset"].lists.loc[0, "list_id"])
    response = payments_client.get(
        f"/v1/grants/lists/{first}", params={"scheme_date": AFTER, "model_version": "incumbent"}
    )
    assert response.status_code == 422
    body = response.json()
    assert (body["error"], body["field"]) == ("rule_mismatch", "model_version")
    assert "model_2026" in body["message"]
    bad = payments_client.get(f"/v1/grants/lists/{first}", params={"scheme_date": "30.11.2026"})
    assert bad.status_code == 422


def test_a_challenger_pays_only_as_the_promoted_champion(payments_client, facts):
    first = str(facts["dataset"].lists.loc[0, "list_id"])
    response = payments_client.get(
        f"/v1/grants/lists/{first}", params={"scheme_date": AFTER, "model_version": "fine_bands"}
    )
    assert response.status_code == 422
    body = response.json()
    assert (body["error"], body["field"]) == ("challenger_not_promoted", "model_version")
    assert "--unlegislated-reason" in body["message"]


def test_a_snapshot_without_the_list_facts_prices_ptb_and_names_what_is_missing(
    tiny_dataset, tmp_path
):
    lists = tiny_dataset.lists[["list_id", "practice_kommune"]]
    lists = pd.concat([lists, pd.DataFrame({"list_id": [EMPTY], "practice_kommune": ["0301"]})])
    bare = validate_dataset(
        replace(
            tiny_dataset,
            lists=lists,
            kommuner=tiny_dataset.kommuner.drop(columns=["population"]),
        )
    )
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    register_bundle(uri, tmp_path / "artifacts", calibrate(tiny_dataset).bundle, "champion")
    app = create_app(
        ModelStore(uri, cache_dir=tmp_path / "cache"),
        snapshot=Snapshot(bare, source="bare"),
        load_in_background=False,
        freeze_gc=False,
    )
    with TestClient(app) as client:
        response = client.get("/v1/grants/lists", params={"scheme_date": AFTER})
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert all(float(r["ptb_grant_nok"]) > 0 for r in rows if r["list_id"] != EMPTY)
    short = [r for r in rows if int(r["persons"]) < 500]
    assert short
    for row in short:
        assert row["basistilskudd_nok"] == "" and "list_cap" in row["not_computable"]
    for row in (r for r in rows if int(r["persons"]) >= 500):
        assert float(row["basistilskudd_nok"]) == pytest.approx(float(row["ptb_grant_nok"]))
