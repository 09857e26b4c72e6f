"""GET /v1/whatif/reform: the reform step by step over HTTP, from a trained registry."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from features.contract import load_dataset, write_dataset
from features.synth import synthesise
from serving.app import create_app
from serving.model_store import ModelStore
from serving.snapshot import Snapshot
from tests.conftest import SMALL_DATA_GATE
from tests.serving.conftest import register_bundle
from training.fit import calibrate
from training.pipeline import TrainingOptions, train_and_register

STEPS = [
    "dampening_off",
    "education_by_grunnkrets",
    "centrality_by_practice",
    "utjamning_into_centrality",
    "refugee_rate",
]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("reform-registry")
    data_dir = write_dataset(synthesise(60_000, 2029), root / "snapshot")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    dataset = load_dataset(data_dir, training=True)
    train_and_register(
        dataset,
        tracking_uri=uri,
        artifact_root=str(root / "artifacts"),
        options=TrainingOptions(
            folds=2, challengers=False, models=("model_2026",), **SMALL_DATA_GATE
        ),
        snapshot=dataset,  # the gate prices it; the first 2026 version passing becomes champion
    )
    return uri, data_dir, root


@pytest.fixture(scope="module")
def api(trained) -> Iterator[TestClient]:
    uri, data_dir, _ = trained
    app = create_app(ModelStore(uri), snapshot=Snapshot.load(data_dir), load_in_background=False)
    with TestClient(app) as client:
        yield client


def test_one_call_gives_the_whole_chain_per_list_and_group(api):
    response = api.get("/v1/whatif/reform", params={"scheme_date": "2026-11-30"})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert [s["step"] for s in answer["steps"]] == STEPS
    assert answer["model"]["model_name"] == "model_2026"
    assert answer["scheme_date"] == "2026-11-30"
    rows = answer["list_rows"]
    assert len(rows) == answer["lists"]
    for row in rows:  # the steps add up to every list's change within 1 NOK
        assert abs(sum(row["steps_nok"].values()) - row["change_nok"]) < 1.0
        assert abs(row["after_nok"] - row["before_nok"] - row["change_nok"]) < 0.02
    for group in ("centrality", "size_band", "form_of_practice", "kommuner"):
        table = answer[group]
        assert sum(g["lists"] for g in table) == answer["lists"]
        assert sum(g["change_nok"] for g in table) == pytest.approx(
            answer["change_total_nok"], abs=1.0
        )
    bands = [g["key"] for g in answer["size_band"]]
    assert bands == sorted(bands, key=["under 5,000", "5,000-20,000", "over 20,000"].index)
    for step in answer["steps"]:
        moved = sum(r["steps_nok"][step["step"]] for r in rows)
        assert moved == pytest.approx(step["moved_nok"], abs=1.0)


def test_the_lists_can_be_left_out_and_the_answer_is_kept(api):
    first = api.get("/v1/whatif/reform", params={"lists": "false"}).json()
    assert first["list_rows"] is None
    again = api.get("/v1/whatif/reform", params={"lists": "false"}).json()
    assert again == first


def test_a_model_without_reform_steps_is_refused_naming_the_field(trained, api):
    uri, _, root = trained
    dataset = load_dataset(trained[1], training=True)
    version = register_bundle(uri, root / "artifacts", calibrate(dataset).bundle)
    response = api.get("/v1/whatif/reform", params={"model_version": version})
    assert response.status_code == 422
    body = response.json()
    assert (body["error"], body["field"]) == ("no_reform_steps", "model_version")


def test_a_bad_scheme_date_is_refused(api):
    response = api.get("/v1/whatif/reform", params={"scheme_date": "next tuesday"})
    assert response.status_code == 422
