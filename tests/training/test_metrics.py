import numpy as np
import pandas as pd
import pytest

from features.indicators import IndicatorConfig, factors
from training.calibrate import CapitationRegressor
from training.metrics import (
    PREDICTIVE_RATIO_COLUMNS,
    cumming_prediction_measure,
    list_level_fit,
    mean_absolute_prediction_error,
    predictive_ratios,
    r_squared,
)

CONFIG = IndicatorConfig()


def synthetic_features(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """Level codes for every factor of the default configuration, drawn uniformly."""
    codes = {f.name: rng.integers(0, len(f.levels), n).astype("int16") for f in factors(CONFIG)}
    frame = pd.DataFrame(codes)
    share = rng.uniform(0.0, 0.6, n)
    frame["education"] = (share > CONFIG.education_threshold).astype("int16")
    frame["education_share"] = share
    return frame


@pytest.fixture
def sample():
    rng = np.random.default_rng(7)
    n = 500
    y = rng.gamma(0.8, 1500.0, n)
    yhat = y * rng.uniform(0.5, 1.5, n) + 100.0
    w = rng.integers(1, 13, n) / 12
    return y, yhat, w


def test_hand_checked_values():
    y = np.array([0.0, 2.0, 4.0])
    yhat = np.array([1.0, 1.0, 4.0])
    w = np.array([1.0, 1.0, 2.0])
    # weighted mean 2.5; squared errors 1 + 1 + 0 against 6.25 + 0.25 + 2 * 2.25 = 11
    assert r_squared(y, yhat, w) == pytest.approx(1 - 2 / 11)
    # absolute errors 1 + 1 + 0 against 2.5 + 0.5 + 2 * 1.5 = 6
    assert cumming_prediction_measure(y, yhat, w) == pytest.approx(1 - 2 / 6)
    assert mean_absolute_prediction_error(y, yhat, w) == pytest.approx(2 / 4)


def test_perfect_prediction_scores_one(sample):
    y, _, w = sample
    assert r_squared(y, y, w) == 1.0
    assert cumming_prediction_measure(y, y, w) == 1.0
    assert mean_absolute_prediction_error(y, y, w) == 0.0
    groups = pd.DataFrame({"g": np.arange(len(y)) % 4})
    assert np.allclose(predictive_ratios(groups, y, y, w)["predictive_ratio"], 1.0)
    fit = list_level_fit(np.arange(len(y)) % 10, y, y, w)
    assert fit["r2"] == pytest.approx(1.0)
    assert fit["cpm"] == pytest.approx(1.0)
    assert fit["mape_pct"] == pytest.approx(0.0)
    assert fit["share_pr_95_105"] == 1.0


def test_predicting_the_weighted_mean_scores_zero(sample):
    y, _, w = sample
    mean = np.full_like(y, np.average(y, weights=w))
    assert r_squared(y, mean, w) == pytest.approx(0.0, abs=1e-12)
    assert cumming_prediction_measure(y, mean, w) == pytest.approx(0.0, abs=1e-12)
    list_ids = np.arange(len(y)) % 10
    fit = list_level_fit(list_ids, y, mean, w)
    assert fit["r2"] == pytest.approx(0.0, abs=1e-12)
    assert fit["cpm"] == pytest.approx(0.0, abs=1e-12)


def test_exposure_weight_equals_repeated_rows():
    rng = np.random.default_rng(3)
    n = 300
    y = rng.gamma(0.8, 1500.0, n)
    yhat = rng.gamma(2.0, 600.0, n)
    w = rng.integers(1, 4, n).astype("float64")
    groups = pd.DataFrame({"g": rng.integers(0, 5, n)})
    list_ids = rng.integers(0, 8, n)
    rep = np.repeat(np.arange(n), w.astype("int64"))
    ones = np.ones(len(rep))
    for measure in (r_squared, cumming_prediction_measure, mean_absolute_prediction_error):
        assert measure(y, yhat, w) == pytest.approx(measure(y[rep], yhat[rep], ones))
    weighted = predictive_ratios(groups, y, yhat, w)
    repeated = predictive_ratios(groups.iloc[rep], y[rep], yhat[rep], ones)
    for column in ("exposure", "actual_nok", "predicted_nok", "predictive_ratio"):
        assert np.allclose(weighted[column], repeated[column])
    fit = list_level_fit(list_ids, y, yhat, w)
    fit_repeated = list_level_fit(list_ids[rep], y[rep], yhat[rep], ones)
    assert fit == pytest.approx(fit_repeated)


def test_predictive_ratios_hand_checked():
    groups = pd.DataFrame({"g": ["a", "a", "b"], "h": ["x", "x", "x"]})
    y = np.array([100.0, 300.0, 500.0])
    yhat = np.array([150.0, 150.0, 600.0])
    w = np.array([1.0, 1.0, 0.5])
    table = predictive_ratios(groups, y, yhat, w)
    assert tuple(table.columns) == PREDICTIVE_RATIO_COLUMNS
    a, b, x = (table.iloc[i] for i in range(3))
    assert (a["group"], a["level"], a["persons"], a["exposure"]) == ("g", "a", 2, 2.0)
    assert (a["actual_nok"], a["predicted_nok"]) == (400.0, 300.0)
    assert a["predictive_ratio"] == pytest.approx(0.75)
    assert b["predictive_ratio"] == pytest.approx(300 / 250)
    assert (x["group"], x["persons"]) == ("h", 3)
    assert x["predictive_ratio"] == pytest.approx(600 / 650)


def test_predictive_ratios_keep_category_order_and_skip_empty_and_missing_levels():
    levels = ["young", "old", "unused"]
    groups = pd.DataFrame({"age": pd.Categorical(["old", "young", None], categories=levels)})
    y = np.array([100.0, 200.0, 300.0])
    table = predictive_ratios(groups, y, y, np.ones(3))
    assert table["level"].tolist() == ["young", "old"]
    assert table["persons"].sum() == 2


def test_predictive_ratio_is_missing_where_nothing_was_spent():
    groups = pd.DataFrame({"g": [0, 1]})
    table = predictive_ratios(groups, np.array([0.0, 10.0]), np.array([5.0, 10.0]), np.ones(2))
    assert np.isnan(table["predictive_ratio"].iloc[0])
    assert table["predictive_ratio"].iloc[1] == 1.0


def test_list_level_fit_hand_checked():
    # list a: actual 400, predicted 300, exposure 2; b: 500, 460, 1; c: 500, 520, 0.5
    list_ids = np.array(["a", "a", "b", "c"])
    y = np.array([100.0, 300.0, 500.0, 1000.0])
    yhat = np.array([150.0, 150.0, 460.0, 1040.0])
    w = np.array([1.0, 1.0, 1.0, 0.5])
    fit = list_level_fit(list_ids, y, yhat, w)
    # national mean 1400 / 3.5 = 400 NOK, so the flat grant pays 800, 400 and 200
    assert fit["r2"] == pytest.approx(1 - (100**2 + 40**2 + 20**2) / (400**2 + 100**2 + 300**2))
    assert fit["cpm"] == pytest.approx(1 - (100 + 40 + 20) / (400 + 100 + 300))
    assert fit["mape_pct"] == pytest.approx((25 + 8 + 4) / 3)
    assert fit["share_pr_95_105"] == pytest.approx(1 / 3)
    assert fit["share_pr_90_110"] == pytest.approx(2 / 3)
    assert fit["lists"] == 3


def test_in_sample_tariff_predictive_ratios_are_one_for_every_factor_level():
    # Least squares with a dummy per level makes residuals sum to zero within every level; so
    # every centrality class gets a dummy here (the rules give classes 1-4 one level together),
    # with a clear supplement, as a negative one would be dropped.
    config = CONFIG.model_copy(update={"centrality_supplement_classes": (2, 3, 4, 5, 6)})
    rng = np.random.default_rng(11)
    n = 4000
    features = synthetic_features(rng, n)
    rural = (features["centrality"] > 0).to_numpy()
    mean = np.exp(5.5 + 0.04 * features["age_sex"] + 0.2 * features["health_status"] + 0.8 * rural)
    y = rng.gamma(0.7, mean / 0.7)
    w = rng.integers(1, 13, n) / 12
    tariff = CapitationRegressor(indicators=config).fit(features, y, w)
    codes = features[[f.name for f in factors(config)]]
    table = predictive_ratios(codes, y, tariff.predict(features), w)
    assert set(table["group"]) == set(codes.columns)
    assert np.allclose(table["predictive_ratio"], 1.0, rtol=1e-9)


def test_mismatched_lengths_are_refused():
    with pytest.raises(ValueError, match="one length"):
        r_squared(np.ones(3), np.ones(2), np.ones(3))
    with pytest.raises(ValueError, match="one row per person"):
        predictive_ratios(pd.DataFrame({"g": [1, 2]}), np.ones(3), np.ones(3), np.ones(3))
