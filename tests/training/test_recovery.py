"""Calibration recovers the synthetic population's documented cost model (docs/cost-model.md).

Tolerances come from the sample: 4.5 heteroskedasticity-robust standard errors of the fit, so
they shrink as the data set grows and were not tuned by hand.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from features.contract import validate_dataset
from features.indicators import factors
from features.synth import load_parameters, synthesise
from training.calibrate import CapitationRegressor, design_matrix
from training.fit import calibrate
from training.validation import cross_validate, validation_groups

PERSONS = 300_000
Z = 4.5


@pytest.fixture(scope="module")
def dataset():
    return synthesise(PERSONS, seed=11, include_expected_cost=True)


@pytest.fixture(scope="module")
def truth(dataset):
    expected_cost = dataset.persons["expected_cost"].to_numpy()
    calibration = calibrate(validate_dataset(dataset, training=True))
    indicators = calibration.bundle.indicators
    design = design_matrix(calibration.features, factors(indicators))
    design = design[calibration.regressor.result_.params.index]
    robust = sm.WLS(calibration.y, design, weights=calibration.exposure).fit(cov_type="HC0")
    projection = CapitationRegressor(indicators=indicators).fit(
        calibration.features, expected_cost, calibration.exposure
    )
    return calibration, robust, projection


def test_every_coefficient_matches_the_best_additive_fit_of_the_true_expected_cost(truth):
    calibration, robust, projection = truth
    estimated = calibration.regressor.result_.params
    target = projection.result_.params
    gap = np.abs(estimated - target) / robust.bse
    assert gap.max() < Z, gap.sort_values().tail(3)


@pytest.mark.parametrize(
    "term,documented",
    [
        ("education[share > 0.28]", lambda m: m["education_nok"]),
        ("centrality[5]", lambda m: m["centrality_nok"][5]),
        ("centrality[6]", lambda m: m["centrality_nok"][6]),
        ("refugee[first year]", lambda m: m["refugee_nok"]),
    ],
)
def test_additive_supplements_recover_the_documented_nok(truth, term, documented):
    calibration, robust, _ = truth
    model = load_parameters()["cost_model"]
    estimate = calibration.regressor.result_.params[term]
    assert abs(estimate - documented(model)) < Z * robust.bse[term]


def test_central_classes_carry_no_supplement(truth):
    calibration, _, _ = truth
    assert load_parameters()["cost_model"]["centrality_nok"][4] == 0
    params = calibration.regressor.result_.params
    assert not {"centrality[2]", "centrality[3]", "centrality[4]"} & set(params.index)
    table = calibration.bundle.weight_table
    central = table[(table["factor"] == "centrality") & (table["level_code"] < 4)]
    assert (central["effect_nok"] == 0).all()


def test_health_status_bands_rise_with_last_years_copayment(truth):
    calibration, _, _ = truth
    table = calibration.bundle.weight_table
    bands = table[table["factor"] == "health_status"].sort_values("level_code")
    paying = bands["effect_nok"].to_numpy()[1:]
    assert (np.diff(paying) > 0).all(), bands[["level", "effect_nok"]]


def _age_sex_ratios(calibration) -> pd.DataFrame:
    indicators = calibration.bundle.indicators
    groups = validation_groups(calibration.persons, calibration.features, factors(indicators))
    report = cross_validate(
        lambda: CapitationRegressor(indicators=indicators),
        calibration.features,
        calibration.y,
        calibration.exposure,
        groups=groups,
        list_ids=calibration.persons["list_id"].to_numpy(),
        folds=5,
    )
    ratios = report.predictive_ratios
    return ratios[(ratios["group"] == "age_sex_10y") & (ratios["persons"] >= 1000)]


def test_the_fine_bands_challenger_fits_every_ten_year_group_out_of_sample(dataset):
    fine = calibrate(validate_dataset(dataset, training=True), name="model_2026_fine_bands")
    ratios = _age_sex_ratios(fine)
    assert len(ratios) >= 18
    assert ratios["predictive_ratio"].between(0.95, 1.05).all(), ratios


@pytest.mark.parametrize("name", ["model0_2023", "model_2026"])
def test_the_six_age_groups_of_the_rules_misfit_some_ten_year_groups(dataset, name):
    legislated = calibrate(validate_dataset(dataset, training=True), name=name)
    ratios = _age_sex_ratios(legislated)
    assert not ratios["predictive_ratio"].between(0.95, 1.05).all()
