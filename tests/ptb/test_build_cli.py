"""``ptb synth --extracts``, ``ptb build``, ``ptb validate`` and ``ptb train``, end to end."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import pandas as pd
import pytest

from features.contract import load_dataset
from features.extracts.lineage import read_lineage
from tests.features.extracts import scenario
from tests.ptb.test_cli import run_ptb


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("build-cli")
    result = run_ptb("synth", "--extracts", "--out", "extracts", "--persons", "3000", cwd=root)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (root / "extracts" / "claims" / "claims_2025.parquet").is_file()
    result = run_ptb("build", "--extracts", "extracts", "--year", "2025", "--out", "data", cwd=root)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "reconciliation" in result.stdout and "fingerprint" in result.stdout
    return root


def test_build_output_passes_validate(built):
    result = run_ptb("validate", "--data", "data", cwd=built)
    assert result.returncode == 0, result.stderr
    assert "valid" in result.stdout
    assert len(load_dataset(built / "data", training=True).persons) == 3000


def test_train_logs_the_extracts_as_dataset_lineage(built):
    result = run_ptb("train", "--data", "data", "--folds", "2", "--no-challengers", cwd=built)
    assert result.returncode == 0, result.stderr[-3000:]
    lineage = read_lineage(built / "data")
    assert lineage is not None
    mlflow.set_tracking_uri(f"sqlite:///{built}/mlruns/mlflow.db")
    runs = mlflow.search_runs(search_all_experiments=True, output_format="list")
    parent = [r for r in runs if r.data.tags.get("extracts_fingerprint")]
    assert len(parent) == 1
    # Two inputs: the data set itself (its profile) and the extracts it was built from.
    inputs = [
        i
        for i in parent[0].inputs.dataset_inputs
        if str((built / "extracts").resolve()) in i.dataset.source
    ]
    assert len(inputs) == 1
    assert len(parent[0].inputs.dataset_inputs) == 2
    dataset = inputs[0].dataset
    assert dataset.digest == lineage.fingerprint[:32]
    assert str((built / "extracts").resolve()) in dataset.source
    assert json.loads(dataset.profile)["outcome_year"] == 2025
    tags = {tag.key: tag.value for tag in inputs[0].tags}
    assert tags["fingerprint"] == lineage.fingerprint
    assert tags["mlflow.data.context"] == "training"


def test_bad_extracts_exit_1_and_write_nothing(tmp_path):
    frames = scenario.tables()
    frames["claims"].loc[3, "reimbursed_nok"] = -5.0
    scenario.write(frames, tmp_path / "extracts")
    result = run_ptb(
        "build", "--extracts", "extracts", "--year", "2025", "--out", "data", cwd=tmp_path
    )
    assert result.returncode == 1
    assert "claims.reimbursed_nok: 1 row below 0" in result.stderr
    assert not (tmp_path / "data").exists()
    assert not list(tmp_path.glob(".data.building-*"))


def test_spark_master_is_refused_for_duckdb(tmp_path):
    scenario.write(scenario.tables(), tmp_path / "extracts")
    result = run_ptb(
        "build",
        "--extracts",
        "extracts",
        "--year",
        "2025",
        "--out",
        "data",
        "--master",
        "local[2]",
        cwd=tmp_path,
    )
    assert result.returncode == 1
    assert "--master is a Spark option" in result.stderr


def test_build_rebuilds_in_place(built):
    before = pd.read_parquet(built / "data" / "persons.parquet")
    result = run_ptb(
        "build", "--extracts", "extracts", "--year", "2025", "--out", "data", cwd=built
    )
    assert result.returncode == 0, result.stderr[-2000:]
    pd.testing.assert_frame_equal(pd.read_parquet(built / "data" / "persons.parquet"), before)


def test_train_with_the_duckdb_engine_logs_the_in_memory_metrics(built):
    train = ("train", "--data", "data", "--folds", "2", "--no-challengers")
    for engine in ((), ("--engine", "duckdb")):
        result = run_ptb(*train, *engine, cwd=built)
        assert result.returncode == 0, result.stderr[-3000:]
    mlflow.set_tracking_uri(f"sqlite:///{built}/mlruns/mlflow.db")
    runs = mlflow.search_runs(
        search_all_experiments=True,
        filter_string="attributes.run_name LIKE 'model_2026 %'",
        order_by=["attributes.start_time ASC"],
        output_format="list",
    )
    in_memory, on_engine = runs[-2].data.metrics, runs[-1].data.metrics
    for key in ("cv_r2", "cv_cpm", "cv_mape_nok", "cv_list_r2", "cv_pr_min", "cv_pr_max"):
        assert on_engine[key] == pytest.approx(in_memory[key], rel=1e-9), key
