"""Training, promotion, serving and the CLI against a real MLflow server on PostgreSQL."""

from __future__ import annotations

import re

import mlflow
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from mlflow import MlflowClient

from features.bundle import ModelBundle
from features.errors import PromotionRefused
from features.indicators import PERSON_FIELDS
from serving.app import create_app
from serving.model_store import ModelStore
from tests.conftest import SMALL_DATA_ARGS
from tests.integration.conftest import registry_state, run_ptb
from training.gate import GateBounds
from training.promote import promote
from training.registry import CHAMPION

pytestmark = pytest.mark.slow

VERSION_LINE = re.compile(r"registered model ptb version (\d+) \((\w+) candidate\)")


@pytest.fixture(scope="module")
def cli_training(mlflow_server, first_training, tiny_data_dir, tmp_path_factory):
    """``python -m ptb train`` with ``MLFLOW_TRACKING_URI`` at the server, after the first."""
    before = registry_state(mlflow_server.url)
    code, out, err = run_ptb(
        *(
            "train",
            "--data",
            str(tiny_data_dir),
            "--folds",
            "2",
            "--no-challengers",
            *SMALL_DATA_ARGS,
        ),
        tracking_uri=mlflow_server.url,
        cwd=tmp_path_factory.mktemp("cli"),
    )
    return {"before": before, "code": code, "out": out, "err": err}


def person_frame(dataset, rows: list[int]) -> pd.DataFrame:
    """Persons of the data set with their list's practice kommune, as ``PERSON_FIELDS``."""
    kommune = dataset.lists.set_index("list_id")["practice_kommune"]
    persons = dataset.persons.iloc[rows].reset_index(drop=True)
    persons = persons.assign(practice_kommune=kommune.loc[persons["list_id"]].to_numpy())
    return persons[list(PERSON_FIELDS)]


def test_first_training_registers_both_models_and_crowns_the_2026_one(
    first_training, mlflow_server
):
    versions, aliases = registry_state(mlflow_server.url)
    assert set(first_training.versions) == {"challenger", "incumbent", "fine_bands"}
    assert set(first_training.versions.values()) <= set(versions)
    assert aliases[CHAMPION] == first_training.versions["challenger"]
    assert aliases["incumbent"] == first_training.versions["incumbent"]


def test_runs_and_artifacts_live_in_postgresql_and_the_artifact_store(
    first_training, mlflow_server, postgres
):
    client = MlflowClient(mlflow_server.url)
    experiment = client.get_experiment_by_name("ptb")
    runs = {r.info.run_id: r for r in client.search_runs([experiment.experiment_id])}
    children = set(first_training.run_ids.values())
    assert {first_training.parent_run_id, *children} <= set(runs)
    for run_id in children:
        assert runs[run_id].data.tags["mlflow.parentRunId"] == first_training.parent_run_id
    # The same facts straight from the database, bypassing MLflow.
    stored = dict(postgres.query("SELECT run_uuid, status FROM runs"))
    assert all(stored[run_id] == "FINISHED" for run_id in [first_training.parent_run_id, *children])
    rows = postgres.query("SELECT version, run_id FROM model_versions WHERE name = 'ptb'")
    registered = {str(version): run_id for version, run_id in rows}
    assert {v: registered[v] for v in first_training.versions.values()} == {
        first_training.versions[alias]: first_training.run_ids[name]
        for name, alias in (
            ("model_2026", "challenger"),
            ("model0_2023", "incumbent"),
            ("model_2026_fine_bands", "fine_bands"),
        )
    }
    fingerprint = postgres.query(
        "SELECT value FROM params WHERE run_uuid = %s AND key = 'data_fingerprint'",
        first_training.run_ids["model_2026"],
    )
    assert len(fingerprint) == 1 and len(fingerprint[0][0]) >= 16
    # Artifacts go through the server (mlflow-artifacts:/) to its artifact directory.
    run = runs[first_training.run_ids["model_2026"]]
    assert run.info.artifact_uri.startswith("mlflow-artifacts:/")
    listed = {a.path for a in client.list_artifacts(run.info.run_id, "bundle")}
    assert {"bundle/bundle.json", "bundle/weight_table.csv"} <= listed
    on_disk = mlflow_server.artifacts / run.info.artifact_uri.removeprefix("mlflow-artifacts:/")
    assert (on_disk / "bundle" / "bundle.json").is_file()
    assert (on_disk / "tariff" / "weight_table.csv").is_file()
    assert (on_disk / "validation" / "predictive_ratios.csv").is_file()


def test_serving_loads_the_champion_from_the_server_and_prices_a_person(
    first_training, mlflow_server, tiny_dataset, tiny_data_dir
):
    _, aliases = registry_state(mlflow_server.url)
    champion = aliases[CHAMPION]
    store = ModelStore(mlflow_server.url)
    app = create_app(store, snapshot=tiny_data_dir, load_in_background=False, freeze_gc=False)
    person = person_frame(tiny_dataset, [3])
    with TestClient(app) as client:
        assert client.get("/readyz").status_code == 200
        info = client.get("/v1/model")
        assert info.status_code == 200, info.text
        assert info.json()["model_version"] == champion
        body = person.iloc[0].to_dict()
        body = {
            **body,
            "age": int(body["age"]),
            "refugee_first_year": bool(body["refugee_first_year"]),
        }
        answer = client.post("/v1/grants/person", json=body)
        assert answer.status_code == 200, answer.text
    # The same grant from the champion's bundle downloaded on its own from the server.
    run_id = MlflowClient(mlflow_server.url).get_model_version("ptb", champion).run_id
    local = mlflow.artifacts.download_artifacts(
        run_id=run_id, artifact_path="bundle", tracking_uri=mlflow_server.url
    )
    expected = ModelBundle.load(local).score(person).grant_nok[0]
    assert answer.json()["model_version"] == champion
    assert answer.json()["grant_nok"] == pytest.approx(expected, abs=0.005)


def test_cli_train_against_the_server_prints_and_registers_new_versions(
    cli_training, mlflow_server
):
    assert cli_training["code"] == 0, cli_training["err"][-3000:]
    printed = dict((alias, v) for v, alias in VERSION_LINE.findall(cli_training["out"]))
    assert set(printed) == {"challenger", "incumbent", "fine_bands"}, cli_training["out"]
    assert re.search(r"run id: [0-9a-f]{32}", cli_training["out"])
    versions, aliases = registry_state(mlflow_server.url)
    before_versions, before_aliases = cli_training["before"]
    assert set(versions) - set(before_versions) == set(printed.values())
    assert aliases["challenger"] == printed["challenger"]
    # Not the first training: champion stays where it was until a promotion.
    assert aliases[CHAMPION] == before_aliases[CHAMPION]


def test_promotion_moves_champion_through_the_gate_on_the_server(
    cli_training, mlflow_server, tiny_dataset
):
    assert cli_training["code"] == 0, cli_training["err"][-3000:]
    _, aliases = registry_state(mlflow_server.url)
    candidate, champion = aliases["challenger"], aliases[CHAMPION]
    assert candidate != champion
    # Ratios near 1 whose intervals cannot reach 1.2: refused, uncertainty included.
    impossible = GateBounds(min_ratio=1.2, max_ratio=1.3, min_level_persons=0)
    snapshot = tiny_dataset
    with pytest.raises(PromotionRefused, match=rf"version {candidate} not promoted"):
        promote(mlflow_server.url, candidate, bounds=impossible, reason="test", snapshot=snapshot)
    assert registry_state(mlflow_server.url)[1][CHAMPION] == champion
    # The default ratio bounds; only the paid-level minimum loosened for the small data.
    done = promote(
        mlflow_server.url,
        candidate,
        bounds=GateBounds(min_level_persons=0),
        reason="test on small synthetic data",
        snapshot=snapshot,
    )
    assert done.version == candidate and done.move.from_version == champion
    assert registry_state(mlflow_server.url)[1][CHAMPION] == candidate


def test_served_grants_follow_the_champion_and_a_pinned_version(cli_training, mlflow_server):
    store = ModelStore(mlflow_server.url)
    _, aliases = registry_state(mlflow_server.url)
    champion = store.get(CHAMPION)
    assert champion.version == aliases[CHAMPION]
    incumbent = store.get(aliases["incumbent"])
    assert incumbent.name == "model0_2023"
    assert np.isfinite(champion.bundle.rate_nok) and champion.bundle.rate_nok > 0
