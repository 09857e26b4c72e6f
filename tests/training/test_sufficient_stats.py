"""Training from an engine's sufficient statistics equals the in-memory fit and validation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.contract import Dataset, write_dataset
from features.extracts.engines.base import open_engine
from features.indicators import factors
from training.calibrate import CapitationRegressor
from training.fit import calibrate
from training.sufficient_stats import engine_cross_validate
from training.validation import ValidationReport, cross_validate, validation_groups

FOLDS, SEED = 3, 4


@pytest.fixture(scope="module")
def on_disk(tiny_dataset: Dataset, tmp_path_factory) -> Path:
    return write_dataset(tiny_dataset, tmp_path_factory.mktemp("stats") / "data")


@pytest.fixture(scope="module", params=["model_2026", "model0_2023"])
def in_memory(request, tiny_dataset):
    calibration = calibrate(tiny_dataset, name=request.param)
    indicators = calibration.bundle.indicators
    report = cross_validate(
        lambda: CapitationRegressor(indicators=indicators),
        calibration.features,
        calibration.y,
        calibration.exposure,
        groups=validation_groups(calibration.persons, calibration.features, factors(indicators)),
        list_ids=calibration.persons["list_id"].to_numpy(),
        folds=FOLDS,
        seed=SEED,
    )
    return calibration, report


def assert_same(engine_report: ValidationReport, report: ValidationReport) -> None:
    assert engine_report.metrics.keys() == report.metrics.keys()
    for key, value in report.metrics.items():
        assert engine_report.metrics[key] == pytest.approx(value, rel=1e-9, nan_ok=True), key
    ours, theirs = engine_report.predictive_ratios, report.predictive_ratios
    pd.testing.assert_frame_equal(
        ours[["group", "level", "persons"]], theirs[["group", "level", "persons"]]
    )
    for column in ("exposure", "actual_nok", "predicted_nok", "predictive_ratio"):
        np.testing.assert_allclose(ours[column], theirs[column], rtol=1e-9, err_msg=column)


def assert_same_tariff(ours: CapitationRegressor, theirs: CapitationRegressor) -> None:
    for column, rtol in (("effect_nok", 1e-9), ("std_err", 1e-7)):
        np.testing.assert_allclose(
            ours.weight_table_[column], theirs.weight_table_[column], rtol=rtol, atol=1e-7
        )


def _run(engine_name: str, on_disk: Path, calibration):
    engine = open_engine(engine_name)
    try:
        return engine_cross_validate(
            engine, on_disk, calibration.bundle.indicators, folds=FOLDS, seed=SEED
        )
    finally:
        engine.close()


def test_duckdb_statistics_give_the_in_memory_metrics_and_coefficients(on_disk, in_memory):
    calibration, report = in_memory
    result = _run("duckdb", on_disk, calibration)
    assert_same(result.report, report)
    assert_same_tariff(result.regressor, calibration.regressor)
    assert int(result.fold_cells["persons"].sum()) == len(calibration.persons)


@pytest.mark.spark
def test_spark_statistics_give_the_in_memory_metrics(spark_session, on_disk, in_memory):
    calibration, report = in_memory
    result = _run("spark", on_disk, calibration)
    assert_same(result.report, report)
    assert_same_tariff(result.regressor, calibration.regressor)
