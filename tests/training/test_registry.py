"""Training against a real MLflow store (sqlite): runs, registration, aliases, the gate."""

from __future__ import annotations

import subprocess
import sys

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from features.bundle import ModelBundle
from features.contract import write_dataset
from features.errors import ModelNotFoundError, PromotionRefused
from features.indicators import PERSON_FIELDS
from tests.conftest import FAST_TRAINING
from training import pipeline, run_records
from training.fit import calibrate
from training.gate import GateBounds
from training.pipeline import train_and_register
from training.promote import promote
from training.registry import CHAMPION

FAST = FAST_TRAINING
LENIENT = GateBounds(min_ratio=0.0, max_ratio=10.0, min_level_persons=0, require_snapshot=False)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("mlruns")
    return {"tracking_uri": f"sqlite:///{root}/mlflow.db", "artifact_root": str(root / "artifacts")}


@pytest.fixture(scope="module")
def first_training(tiny_dataset, store):
    return train_and_register(tiny_dataset, options=FAST, **store)


def _aliases(tracking_uri: str) -> dict[str, str]:
    aliases = MlflowClient(tracking_uri).get_registered_model("ptb").aliases
    return {alias: str(version) for alias, version in aliases.items()}


def _versions(tracking_uri: str) -> list[str]:
    return sorted(
        str(v.version) for v in MlflowClient(tracking_uri).search_model_versions("name='ptb'")
    )


def test_first_training_registers_both_models_and_crowns_the_2026_one(first_training, store):
    assert set(first_training.versions) == {"challenger", "incumbent", "fine_bands"}
    aliases = _aliases(store["tracking_uri"])
    assert aliases[CHAMPION] == first_training.versions["challenger"]
    assert aliases["incumbent"] == first_training.versions["incumbent"]


def test_the_run_logs_params_metrics_and_readable_artifacts(first_training, store):
    client = MlflowClient(store["tracking_uri"])
    run = client.get_run(first_training.run_ids["model_2026"])
    assert run.data.params["data_fingerprint"] == first_training_fingerprint(client, first_training)
    for metric in ("cv_r2", "cv_cpm", "cv_mape_nok", "cv_list_r2", "cv_pr_min", "cv_pr_max"):
        assert np.isfinite(run.data.metrics[metric])
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"tariff", "validation", "bundle"} <= artifacts
    tariff = {a.path for a in client.list_artifacts(run.info.run_id, "tariff")}
    assert {"tariff/weight_table.csv", "tariff/coefficients.csv"} <= tariff
    plots = {a.path for a in client.list_artifacts(run.info.run_id, "validation")}
    assert {"validation/weights.png", "validation/predictive_ratios.png"} <= plots


def first_training_fingerprint(client, outcome) -> str:
    return client.get_run(outcome.parent_run_id).data.params["data_fingerprint"]


def test_registered_bundle_equals_the_calibrated_model(first_training, store, tiny_dataset):
    path = mlflow.artifacts.download_artifacts(
        run_id=first_training.run_ids["model_2026"],
        artifact_path="bundle",
        tracking_uri=store["tracking_uri"],
    )
    loaded = ModelBundle.load(path)
    fresh = calibrate(tiny_dataset).bundle
    pd.testing.assert_frame_equal(loaded.weight_table, fresh.weight_table, check_dtype=False)
    assert loaded.rate_nok == pytest.approx(fresh.rate_nok, rel=1e-12)


def test_pyfunc_scores_persons_like_the_bundle(first_training, store, tiny_dataset):
    mlflow.set_tracking_uri(store["tracking_uri"])
    version = first_training.versions["challenger"]
    model = mlflow.pyfunc.load_model(f"models:/ptb/{version}")
    calibration = calibrate(tiny_dataset)
    persons = calibration.persons[list(PERSON_FIELDS)].head(50)
    predicted = model.predict(persons)
    expected = calibration.bundle.score(persons)
    assert np.allclose(predicted["weight"], expected.weight)
    assert np.allclose(predicted["grant_nok"], expected.grant_nok)


def test_promotion_gate_refuses_with_reasons_and_keeps_the_champion(first_training, store):
    champion_before = _aliases(store["tracking_uri"])[CHAMPION]
    # No interval of a fitted model reaches up into 1.2-1.3: every group fails, by name.
    strict = GateBounds(min_ratio=1.2, max_ratio=1.3, min_level_persons=0)
    with pytest.raises(PromotionRefused, match="predictive_ratios: .* outside 1.2-1.3"):
        promote(
            store["tracking_uri"],
            first_training.versions["incumbent"],
            bounds=strict,
            reason="test of a strict bound",
        )
    assert _aliases(store["tracking_uri"])[CHAMPION] == champion_before


def test_promotion_moves_the_champion_when_the_gate_passes(first_training, store):
    promoted = promote(
        store["tracking_uri"],
        first_training.versions["incumbent"],
        bounds=LENIENT,
        reason="test: any model",
    )
    assert _aliases(store["tracking_uri"])[CHAMPION] == promoted.version
    promote(
        store["tracking_uri"],
        first_training.versions["challenger"],
        bounds=LENIENT,
        reason="test: back",
    )


def test_unknown_version_names_the_versions_that_exist(first_training, store):
    with pytest.raises(ModelNotFoundError, match="registered versions: 1, 2, 3"):
        promote(store["tracking_uri"], "99")


def test_the_fine_bands_challenger_pays_only_after_a_documented_promotion(first_training, store):
    uri, fine = store["tracking_uri"], first_training.versions["fine_bands"]
    champion_before = _aliases(uri)[CHAMPION]
    with pytest.raises(PromotionRefused, match="implements no legislated rule"):
        promote(uri, fine, bounds=LENIENT, reason="test: any model")
    assert _aliases(uri)[CHAMPION] == champion_before
    assert "ptb_unlegislated_promotion" not in MlflowClient(uri).get_model_version("ptb", fine).tags
    promote(
        uri,
        fine,
        bounds=LENIENT,
        reason="test: any model",
        unlegislated_reason="pilot approved by HOD, letter 2026/123",
    )
    assert _aliases(uri)[CHAMPION] == fine
    tags = MlflowClient(uri).get_model_version("ptb", fine).tags
    assert tags["ptb_unlegislated_promotion"] == "pilot approved by HOD, letter 2026/123"
    promote(uri, first_training.versions["challenger"], bounds=LENIENT, reason="test: back")


def test_the_2026_model_ships_every_reform_step_calibrated(first_training, store):
    path = mlflow.artifacts.download_artifacts(
        run_id=first_training.run_ids["model_2026"],
        artifact_path="bundle",
        tracking_uri=store["tracking_uri"],
    )
    steps = ModelBundle.load(path).steps
    assert [s.name for s in steps][0] == "reform/model0_2023"
    assert [s.name for s in steps][-1] == "reform/refugee_rate"
    assert len(steps) == 6


def test_a_failed_run_registers_nothing_and_moves_no_alias(
    first_training, store, tiny_dataset, monkeypatch
):
    before_versions = _versions(store["tracking_uri"])
    before_aliases = _aliases(store["tracking_uri"])

    def broken_plot(*args, **kwargs):
        raise RuntimeError("plotting failed")

    monkeypatch.setattr(run_records, "plot_weights", broken_plot)
    with pytest.raises(RuntimeError, match="plotting failed"):
        train_and_register(tiny_dataset, options=FAST, **store)
    assert _versions(store["tracking_uri"]) == before_versions
    assert _aliases(store["tracking_uri"]) == before_aliases
    client = MlflowClient(store["tracking_uri"])
    newest = client.search_runs(
        [client.get_experiment_by_name("ptb").experiment_id],
        filter_string="tags.mlflow.runName LIKE 'train %'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )[0]
    assert newest.info.status == "FAILED"


def test_an_interrupted_run_registers_nothing(first_training, store, tiny_dataset, monkeypatch):
    before_versions = _versions(store["tracking_uri"])

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline, "register", interrupt)
    with pytest.raises(KeyboardInterrupt):
        train_and_register(tiny_dataset, options=FAST, **store)
    assert _versions(store["tracking_uri"]) == before_versions


def test_cli_refuses_a_broken_data_set_before_logging_anything(broken_dataset, tmp_path):
    directory, _ = broken_dataset("sex_unknown")
    env = {"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/mlflow.db", "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-m", "ptb", "train", "--data", str(directory)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 1
    assert "persons.sex" in result.stderr
    assert not (tmp_path / "mlflow.db").exists()


def test_cli_train_prints_run_id_and_registered_version(tiny_dataset, tmp_path):
    write_dataset(tiny_dataset, tmp_path / "data")
    env = {
        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/mlruns/mlflow.db",
        "PATH": "/usr/bin:/bin",
        "PTB_ARTIFACT_ROOT": str(tmp_path / "mlruns" / "artifacts"),
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ptb",
            "train",
            "--data",
            str(tmp_path / "data"),
            "--folds",
            "2",
            "--no-challengers",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "run id: " in result.stdout
    assert "registered model ptb version 1 (challenger candidate)" in result.stdout
    # Tiny data cannot fill every paid level: the gate holds the alias back and says why.
    assert "alias challenger NOT moved" in result.stdout


def test_the_parent_run_shows_the_age_band_evidence_of_every_model(first_training, store):
    path = mlflow.artifacts.download_artifacts(
        run_id=first_training.parent_run_id,
        artifact_path="evidence/age_bands_10y.csv",
        tracking_uri=store["tracking_uri"],
    )
    table = pd.read_csv(path)
    assert {
        "predictive_ratio_model_2026",
        "predictive_ratio_model0_2023",
        "predictive_ratio_model_2026_fine_bands",
    } <= set(table.columns)
    assert len(table) >= 18
