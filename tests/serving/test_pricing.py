"""The service prices with the release in use: the snapshot's own, else a named one."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient

from features.code_changes import CodeChanges
from features.contract import Dataset
from features.releases import SHIPPED_RELEASE, Release
from serving.app import create_app
from serving.model_store import ModelStore
from serving.snapshot import Snapshot
from tests.serving.conftest import person_body


@pytest.fixture(scope="module")
def unpriced(store: ModelStore) -> Iterator[TestClient]:
    """The service without a snapshot: the shipped release at the model's own rate."""
    app = create_app(store, load_in_background=False, freeze_gc=False)
    with TestClient(app) as client:
        yield client


def _renumbered_kommune(dataset: Dataset) -> tuple[str, str]:
    """A practice kommune of the data set whose number changed in 2024, and its old number."""
    table = CodeChanges.shipped().table.drop_duplicates("old", keep=False)
    old_of = dict(zip(table["new"], table["old"], strict=True))
    new = next(k for k in dataset.lists["practice_kommune"] if k in old_of)
    return new, old_of[new]


def test_model_and_readiness_name_the_snapshot_release_and_rate(client, bundle, snapshot):
    info = client.get("/v1/model").json()
    assert info["reference_release"]["name"] == snapshot.release.name == "snapshot tiny_dataset"
    assert info["reference_release"]["grunnkretser"] == len(snapshot.dataset.grunnkretser)
    assert info["rate_basis"] == "snapshot"
    assert info["trained_on_release"] == bundle.reference.release
    # The snapshot's persons spend the period's budget: 841.80 NOK each.
    assert info["scheme"]["budget_nok"] == pytest.approx(841.80 * snapshot.n_persons)
    assert info["scheme"]["reference_persons"] == snapshot.n_persons
    ready = client.get("/readyz").json()
    assert (ready["reference_release"], ready["rate_basis"]) == (snapshot.release.name, "snapshot")


def test_a_grant_names_the_release_and_a_code_unknown_to_it_names_both(client, tiny_dataset):
    answer = client.post("/v1/grants/person", json=person_body(tiny_dataset)).json()
    assert answer["reference_release"] == "snapshot tiny_dataset"
    assert answer["rate_basis"] == "snapshot" and answer["code_changes"] == []
    refused = client.post(
        "/v1/grants/person", json=person_body(tiny_dataset, grunnkrets="99990101")
    )
    assert refused.status_code == 422
    body = refused.json()
    assert body["error"] == "unknown_code" and body["codes"] == ["99990101"]
    assert body["reference_release"] == "snapshot tiny_dataset"
    assert "99990101 in reference release snapshot tiny_dataset" in body["message"]


def test_an_old_kommune_number_is_priced_under_the_new_one_and_said(client, tiny_dataset):
    new, old = _renumbered_kommune(tiny_dataset)
    current = client.post("/v1/grants/person", json=person_body(tiny_dataset, practice_kommune=new))
    former = client.post("/v1/grants/person", json=person_body(tiny_dataset, practice_kommune=old))
    assert former.status_code == 200, former.text
    assert former.json()["grant_nok"] == current.json()["grant_nok"]
    assert former.json()["code_changes"] == [
        {"field": "practice_kommune", "old": old, "new": new, "valid_from": "2024-01-01"}
    ]
    persons = [
        {k: v for k, v in person_body(tiny_dataset, row).items() if k != "practice_kommune"}
        for row in range(3)
    ]
    listed = client.post("/v1/grants/list", json={"practice_kommune": old, "persons": persons})
    assert listed.status_code == 200, listed.text
    assert listed.json()["code_changes"][0]["new"] == new


def test_a_split_kommune_is_refused_with_its_candidates(client, tiny_dataset):
    refused = client.post(
        "/v1/grants/person", json=person_body(tiny_dataset, practice_kommune="1507")
    )
    assert refused.status_code == 422
    body = refused.json()
    assert body["error"] == "split_code" and body["field"] == "practice_kommune"
    assert body["candidates"] == ["1508", "1580"]
    assert "kommune 1507 was split into 1508, 1580" in body["message"]


def test_without_a_snapshot_the_shipped_release_prices_at_the_models_rate(unpriced, bundle):
    info = unpriced.get("/v1/model").json()
    assert info["reference_release"]["name"] == SHIPPED_RELEASE
    assert info["reference_release"]["valid_from"] == "2024-01-01"
    assert info["rate_basis"] == "model"
    assert info["scheme"]["rate_nok"] == pytest.approx(bundle.rate_nok)
    assert unpriced.get("/readyz").json()["reference_release"] == SHIPPED_RELEASE


def test_the_release_decides_the_level_not_the_model(store, tiny_dataset, tmp_path):
    """The same person in a grunnkrets whose share a release raises pays the education level."""
    body = person_body(tiny_dataset)
    shipped = Release.named()
    raised = replace(
        shipped,
        name="raised",
        grunnkretser=shipped.grunnkretser.assign(primary_only_share=0.99),
    )
    lowered = replace(
        raised, name="lowered", grunnkretser=raised.grunnkretser.assign(primary_only_share=0.01)
    )
    answers = {}
    for release in (raised, lowered):
        directory = release.save(tmp_path / release.name)
        app = create_app(store, load_in_background=False, freeze_gc=False, reference=directory)
        with TestClient(app) as client:
            answers[release.name] = client.post("/v1/grants/person", json=body).json()
    assert answers["raised"]["reference_release"] == "raised"
    assert answers["raised"]["contributions"]["education"] > 0
    assert answers["lowered"]["contributions"]["education"] == 0
    assert answers["raised"]["grant_nok"] > answers["lowered"]["grant_nok"]


def test_a_snapshot_with_a_split_code_is_refused_before_serving(tiny_dataset, tmp_path):
    from features.contract import write_dataset
    from features.errors import SplitCodeError

    lists = tiny_dataset.lists.copy()
    lists.loc[lists.index[0], "practice_kommune"] = "1507"
    write_dataset(replace(tiny_dataset, lists=lists), tmp_path)
    with pytest.raises(SplitCodeError, match="1507 was split into 1508, 1580"):
        Snapshot.load(tmp_path)


def test_whatif_runs_on_the_release_in_use_and_a_scenario_may_name_another(client):
    same = client.post("/v1/whatif", json={}).json()
    assert same["reference_release"] == same["scenario_reference_release"]
    assert same["reference_release"] == "snapshot tiny_dataset"
    assert same["change_total_nok"] == 0 and same["winners"] == same["losers"] == 0
    other = client.post("/v1/whatif", json={"reference_release": SHIPPED_RELEASE})
    assert other.status_code == 200, other.text
    moved = other.json()
    assert moved["scenario_reference_release"] == SHIPPED_RELEASE
    assert moved["scenario"] == {"reference_release": SHIPPED_RELEASE}
    # Budget neutral: the same money, spread by the other release's shares.
    assert moved["change_total_nok"] == pytest.approx(0, abs=1)
    assert moved["winners"] + moved["losers"] > 0
    unknown = client.post("/v1/whatif", json={"reference_release": "1999"})
    assert unknown.status_code == 422
    assert unknown.json()["field"] == "reference_release"
