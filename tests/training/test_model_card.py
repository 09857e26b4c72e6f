"""The model card reads right: which way a decile is mispaid, which version and which gate."""

from __future__ import annotations

import mlflow
import pytest
from mlflow import MlflowClient

from features import MODEL_TAG
from training.fit import calibrate
from training.gate import evaluate
from training.model_card import (
    decile_limits,
    log_card_and_comparison,
    log_card_version,
    model_card,
    reproducible_command,
)
from training.pipeline import TrainingOptions, _validate_tariff
from training.provenance import data_profile
from training.registry import REGISTERED_MODEL, Registry, ensure_experiment, use_tracking


@pytest.fixture(scope="module")
def trained(tiny_dataset):
    calibration = calibrate(tiny_dataset)
    report = _validate_tariff(calibration, TrainingOptions(folds=2))
    gate = evaluate(
        calibration.bundle.name,
        calibration.bundle,
        predictive_ratios=report.predictive_ratios,
        champion_persons=None,
        snapshot=tiny_dataset,
        stage="training",
    )
    return calibration, report, gate, data_profile(tiny_dataset)


def card(trained, command="ptb train --data data", version=None):
    calibration, report, gate, profile = trained
    return model_card(calibration, report, gate, "a test", profile, command, [], version)


def test_a_decile_paid_below_its_cost_is_called_underpaid_and_above_overpaid(trained):
    ratios = trained[1].predictive_ratios
    lowest = ratios[(ratios["group"] == "predicted_decile") & (ratios["level"] == "D1")]
    ratio = float(lowest["predictive_ratio"].iloc[0])
    assert ratio < 1  # the additive tariff underpays the healthiest tenth on this population
    text = card(trained)
    assert f"is paid {ratio:.2f} of its cost (out of sample): the tariff underpays the " in text
    assert "overpays the healthiest" not in text
    flipped = ratios.assign(
        predictive_ratio=ratios["predictive_ratio"].where(
            ratios["group"] != "predicted_decile", 2 - ratios["predictive_ratio"]
        )
    )
    limits = decile_limits(flipped)
    assert "overpays the healthiest tenth" in limits[0] and "highest decile" in limits[1]


def test_the_title_names_the_registered_version_when_known(trained):
    assert card(trained, version="7").startswith("# Model card: ptb version 7 (model_2026)\n")
    assert card(trained).startswith("# Model card: model_2026 (not registered yet)\n")


def test_the_reproduce_command_names_absolute_directories(trained, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    command = "ptb train --data data/B --snapshot=snap --folds 2"
    assert reproducible_command(command) == (
        f"ptb train --data {tmp_path / 'data' / 'B'} --snapshot={tmp_path / 'snap'} --folds 2"
    )
    assert f"--data {tmp_path / 'data'}\n" in card(trained)


def test_the_gate_section_says_it_is_the_training_gate_not_promotion(trained):
    text = card(trained)
    assert "## Gate at training: " in text
    assert "It is not the promotion gate, which `ptb promote` runs again" in text


def test_registration_names_the_version_on_the_card_logged_in_training(
    trained, tiny_dataset, tmp_path
):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    use_tracking(uri, str(tmp_path / "artifacts"))
    calibration, report, gate, profile = trained
    experiment = ensure_experiment("ptb", uri, str(tmp_path / "artifacts"))
    with mlflow.start_run(experiment_id=experiment) as run:
        log_card_and_comparison(
            calibration, report, gate, "a test", profile, "ptb train", None, tiny_dataset
        )
    client = MlflowClient(uri, registry_uri=uri)
    client.create_registered_model(REGISTERED_MODEL)
    version = client.create_model_version(
        REGISTERED_MODEL,
        source=f"{run.info.artifact_uri}/model",
        run_id=run.info.run_id,
        tags={MODEL_TAG: calibration.bundle.name},
    )
    log_card_version(Registry(uri), version.version)
    logged = mlflow.artifacts.load_text(f"runs:/{run.info.run_id}/model_card.md")
    assert logged.startswith(f"# Model card: ptb version {version.version} (model_2026)\n")
    assert logged.split("\n", 1)[1] == card(trained, "ptb train").split("\n", 1)[1]
