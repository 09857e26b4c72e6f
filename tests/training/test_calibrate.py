import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from features.indicators import IndicatorConfig, factors
from training.calibrate import (
    CalibrationError,
    CapitationRegressor,
    annualised_cost,
    design_matrix,
)
from training.fit import calibrate


@pytest.fixture(scope="module")
def calibration(tiny_dataset):
    return calibrate(tiny_dataset, name="model_2026")


def test_coefficients_equal_a_patient_level_statsmodels_wls_fit(calibration):
    regressor = calibration.regressor
    design = design_matrix(calibration.features, factors(regressor.indicators))
    design = design[regressor.result_.params.index]
    direct = sm.WLS(calibration.y, design, weights=calibration.exposure).fit()
    ours = regressor.result_
    assert np.allclose(ours.params, direct.params, rtol=0, atol=1e-8 * np.abs(direct.params).max())
    assert np.allclose(ours.bse, direct.bse, rtol=1e-8)
    assert np.allclose(ours.conf_int(), direct.conf_int(), rtol=1e-8)
    assert ours.df_resid == direct.df_resid


def test_robust_standard_errors_equal_a_patient_level_hc1_fit(calibration):
    regressor = calibration.regressor
    design = design_matrix(calibration.features, factors(regressor.indicators))
    design = design[regressor.result_.params.index]
    direct = sm.WLS(calibration.y, design, weights=calibration.exposure).fit(cov_type="HC1")
    assert np.allclose(regressor.robust_se_, direct.bse, rtol=1e-6)
    table = regressor.weight_table_.set_index(["factor", "level"])
    assert table.loc[("age_sex", "M 80+"), "std_err"] == pytest.approx(
        direct.bse["age_sex[M 80+]"], rel=1e-6
    )


def test_months_listed_as_a_weight_equals_repeated_rows():
    rng = np.random.default_rng(5)
    n = 4000
    config = IndicatorConfig(age_edges=(0, 40), copayment_edges=(1000.0,), refugee=False)
    features = pd.DataFrame(
        {
            "age_sex": rng.integers(0, 4, n),
            "health_status": rng.integers(0, 3, n),
            "education": rng.integers(0, 2, n),
            "centrality": rng.integers(0, 6, n),
        }
    )
    y = rng.gamma(1.2, 1500.0, n) + 300 * features["health_status"].to_numpy()
    copies = rng.integers(1, 4, n)
    weighted = CapitationRegressor(indicators=config).fit(features, y, copies.astype(float))
    repeated = np.repeat(np.arange(n), copies)
    expanded = CapitationRegressor(indicators=config).fit(
        features.iloc[repeated].reset_index(drop=True), y[repeated], np.ones(len(repeated))
    )
    assert np.allclose(weighted.result_.params, expanded.result_.params, atol=1e-6)


def test_annualised_cost_scales_short_spells_to_a_year():
    y, exposure = annualised_cost(np.array([600.0, 1200.0]), np.array([3, 12]))
    assert list(y) == [2400.0, 1200.0]
    assert list(exposure) == [0.25, 1.0]


def test_weights_have_mean_one_over_the_reference_population(calibration):
    bundle = calibration.bundle
    scores = bundle.score(calibration.persons)
    assert scores.weight.mean() == pytest.approx(1.0, abs=1e-12)


def test_grants_add_up_to_the_budget(calibration):
    bundle = calibration.bundle
    scores = bundle.score(calibration.persons)
    assert abs(scores.grant_nok.sum() - bundle.budget_nok) < 1.0
    assert bundle.budget_nok == pytest.approx(841.80 * len(calibration.persons))


def test_in_sample_predictive_ratio_is_one_for_every_level(calibration):
    predicted = calibration.regressor.predict(calibration.features)
    for factor in ("age_sex", "health_status", "education", "refugee"):
        codes = calibration.features[factor].to_numpy()
        for level in np.unique(codes):
            rows = codes == level
            ratio = np.sum(calibration.exposure[rows] * predicted[rows]) / np.sum(
                calibration.exposure[rows] * calibration.y[rows]
            )
            assert ratio == pytest.approx(1.0, abs=1e-9)


def test_an_empty_age_and_sex_cell_is_refused_by_name():
    features = pd.DataFrame(
        {
            "age_sex": [0, 1, 2],
            "health_status": [0, 0, 0],
            "education": [0, 0, 0],
            "centrality": [0, 0, 0],
        }
    )
    config = IndicatorConfig(age_edges=(0, 40), refugee=False)
    with pytest.raises(CalibrationError, match="M 40"):
        CapitationRegressor(indicators=config).fit(features, np.ones(3), np.ones(3))


def test_model0_is_the_2023_rule(tiny_dataset):
    bundle = calibrate(tiny_dataset, name="model0_2023").bundle
    assert bundle.scheme.dampening == 0.5
    assert bundle.indicators.education_area == "kommune_or_bydel"
    assert bundle.indicators.centrality_of == "residence"
    assert "refugee" not in set(bundle.weight_table["factor"])
    assert len(bundle.indicators.age_edges) == 6
