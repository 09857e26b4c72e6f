import numpy as np
import pandas as pd
import pytest

from features.indicators import IndicatorConfig, factors
from training.challengers import CHALLENGERS, Challenger, gradient_boosting, tweedie_glm
from training.metrics import r_squared
from training.validation import cross_validate

CONFIG = IndicatorConfig()


def multiplicative_sample(seed: int, n: int, config: IndicatorConfig = CONFIG):
    """Codes for every factor and a cost whose mean multiplies age, health and centrality."""
    rng = np.random.default_rng(seed)
    features = pd.DataFrame(
        {f.name: rng.integers(0, len(f.levels), n).astype("int16") for f in factors(config)}
    )
    share = rng.uniform(0.0, 0.6, n)
    features["education"] = (share > config.education_threshold).astype("int16")
    features["education_share"] = share
    mean = np.exp(
        5.5
        + 0.05 * features["age_sex"]
        + 0.25 * features["health_status"]
        + 0.1 * features["centrality"]
    ).to_numpy()
    # Compound Poisson-gamma cost: many zero years, the rest gamma-distributed.
    y = rng.gamma(1.0, mean / 0.7) * (rng.uniform(size=n) < 0.7)
    weight = rng.integers(1, 13, n) / 12
    return features, y, weight


@pytest.fixture(scope="module")
def sample():
    return multiplicative_sample(2, 6000)


def test_registry_builds_fresh_named_challengers():
    assert set(CHALLENGERS) == {"tweedie_glm", "gradient_boosting"}
    for name, make in CHALLENGERS.items():
        first, second = make(), make()
        assert isinstance(first, Challenger) and first.name == name
        assert first.pipeline is not second.pipeline


@pytest.mark.parametrize("name", sorted(CHALLENGERS))
def test_challenger_predicts_positive_costs_and_beats_a_constant(name, sample):
    features, y, weight = sample
    train = np.arange(len(y)) < 4500
    model = CHALLENGERS[name]().fit(features[train], y[train], weight[train])
    predicted = model.predict(features[~train])
    assert predicted.shape == (int((~train).sum()),)
    assert np.all(predicted > 0)
    constant = np.full(len(predicted), np.average(y[train], weights=weight[train]))
    held_out = y[~train], weight[~train]
    r2_constant = r_squared(held_out[0], constant, held_out[1])
    assert r_squared(held_out[0], predicted, held_out[1]) > r2_constant + 0.05


@pytest.mark.parametrize("make", [tweedie_glm, gradient_boosting])
def test_challenger_needs_no_refugee_or_share_column(make):
    config = IndicatorConfig(refugee=False)
    features, y, weight = multiplicative_sample(3, 2000, config)
    features = features.drop(columns="education_share")
    predicted = make().fit(features, y, weight).predict(features)
    assert np.all(np.isfinite(predicted)) and np.all(predicted > 0)


@pytest.mark.parametrize("make", [tweedie_glm, gradient_boosting])
def test_level_unseen_in_fitting_still_gets_a_prediction(make, sample):
    features, y, weight = sample
    seen = features["health_status"] < 8
    model = make().fit(features[seen], y[seen], weight[seen])
    predicted = model.predict(features[~seen])
    assert np.all(np.isfinite(predicted)) and np.all(predicted > 0)


def test_exposure_weight_equals_repeated_rows_for_the_glm():
    features, y, _ = multiplicative_sample(4, 1500)
    weight = np.random.default_rng(4).integers(1, 4, len(y)).astype("float64")
    rows = np.repeat(np.arange(len(y)), weight.astype("int64"))
    weighted = tweedie_glm().fit(features, y, weight).predict(features)
    repeated = (
        tweedie_glm()
        .fit(features.iloc[rows].reset_index(drop=True), y[rows], np.ones(len(rows)))
        .predict(features)
    )
    assert np.allclose(weighted, repeated, rtol=1e-4)


def test_exposure_weight_reaches_the_estimator(sample):
    features, y, weight = sample
    unweighted = tweedie_glm().fit(features, y, np.ones(len(y))).predict(features)
    weighted = tweedie_glm().fit(features, y, weight).predict(features)
    assert not np.allclose(unweighted, weighted)


def test_cross_validate_treats_a_challenger_like_the_tariff(sample):
    features, y, weight = sample
    report = cross_validate(
        tweedie_glm,
        features,
        y,
        weight,
        groups=features[["health_status"]],
        list_ids=np.arange(len(y)) % 30,
        folds=3,
    )
    assert report.out_of_fold.shape == (len(y),)
    assert report.metrics["r2"] > 0.05
