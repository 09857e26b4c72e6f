"""The promotion gate on real calibrations: thin, empty and unpriceable models are refused."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from features.contract import validate_dataset
from features.errors import PromotionRefused
from features.gate import MIN_LEVEL_PERSONS, level_support, snapshot_pricing
from features.synth import synthesise
from training.fit import calibrate
from training.gate import GateBounds, data_size, evaluate, ratio_check
from training.metrics import predictive_ratios
from training.pipeline import TrainingOptions, _groups, _validate_tariff


@pytest.fixture(scope="module")
def small_model():
    """The issue's 5,000-person model: ``ptb synth --persons 5000 --seed 3``."""
    dataset = validate_dataset(synthesise(5000, 3), training=True)
    calibration = calibrate(dataset)
    report = _validate_tariff(calibration, TrainingOptions(folds=2))
    return dataset, calibration, report


@pytest.fixture(scope="module")
def tiny_model(tiny_dataset):
    calibration = calibrate(tiny_dataset)
    return calibration, _validate_tariff(calibration, TrainingOptions(folds=2))


def test_the_5000_person_model_is_refused_naming_its_empty_and_thin_levels(small_model):
    _, calibration, report = small_model
    result = evaluate(
        "5",
        calibration.bundle,
        predictive_ratios=report.predictive_ratios,
        champion_persons=20_000,
        snapshot=None,
        bounds=GateBounds(require_snapshot=False),
        reason="unit test",
    )
    assert not result.passed and not result.data_passed
    failures = dict(f.split(": ", 1) for f in result.failures())
    for level in ("centrality=4 (0)", "centrality=5 (0)", "centrality=6 (0)", "age_sex=F 0-5"):
        assert level in failures["level_support"]
    assert "25.0% of the champion's 20,000" in result.checks[1].figure
    assert "data_size" in failures


def test_a_model_missing_a_paid_level_is_refused_whatever_the_minimum(tiny_model):
    calibration, _ = tiny_model
    check = level_support(calibration.bundle, min_persons=1)
    assert not check.passed
    assert "3 empty" in check.detail and "centrality=6 (0)" in check.detail
    table = calibration.bundle.weight_table
    full = replace(calibration.bundle, weight_table=table.assign(persons=10 * MIN_LEVEL_PERSONS))
    assert level_support(full).passed


def _next_years_snapshot(dataset):
    """Next year's snapshot: a grunnkrets split, its new half unknown to the training data."""
    new_code = "03019999"
    grunnkretser = pd.concat(
        [dataset.grunnkretser, dataset.grunnkretser.head(1).assign(grunnkrets=new_code)],
        ignore_index=True,
    )
    persons = dataset.persons.copy()
    persons.loc[persons.index[:7], "grunnkrets"] = new_code
    return replace(dataset, persons=persons, grunnkretser=grunnkretser)


def test_a_model_prices_next_years_snapshot_with_the_snapshots_release(tiny_model, tiny_dataset):
    calibration, _ = tiny_model
    snapshot = validate_dataset(_next_years_snapshot(tiny_dataset))
    check = snapshot_pricing(calibration.bundle, snapshot)
    assert check.passed, check.detail
    assert f"{len(snapshot.persons):,} persons" in check.figure


def test_a_snapshot_that_cannot_be_priced_refuses_the_model(tiny_model, tiny_dataset):
    calibration, _ = tiny_model
    snapshot = _next_years_snapshot(tiny_dataset)
    grunnkretser = snapshot.grunnkretser.copy()
    in_kommune = grunnkretser["grunnkrets"].str.startswith("0301")
    grunnkretser.loc[in_kommune, "primary_only_share"] = float("nan")  # all suppressed
    snapshot = validate_dataset(replace(snapshot, grunnkretser=grunnkretser))
    check = snapshot_pricing(calibration.bundle, snapshot)
    assert not check.passed
    assert (
        check.figure == "not priced" and "ReleaseError" in check.detail and "0301" in check.detail
    )


def test_a_model_prices_its_own_snapshot(tiny_model, tiny_dataset):
    calibration, _ = tiny_model
    check = snapshot_pricing(calibration.bundle, tiny_dataset)
    assert check.passed, check.detail
    assert f"{len(tiny_dataset.persons):,} persons" in check.figure


def test_promotion_without_a_snapshot_fails_unless_waived(tiny_model):
    calibration, report = tiny_model
    kwargs = {"predictive_ratios": report.predictive_ratios, "champion_persons": None}
    refused = evaluate("1", calibration.bundle, snapshot=None, **kwargs)
    assert "snapshot_pricing: no registry snapshot" in "; ".join(refused.failures())


def _ratios(rows: list[tuple[str, str, int, float, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(
        rows, columns=["group", "level", "persons", "predictive_ratio", "ci_low", "ci_high"]
    )


def test_ratio_check_takes_uncertainty_into_account_and_skips_no_small_group():
    ratios = _ratios(
        [
            ("centrality", "1", 90_000, 1.0, 0.99, 1.01),
            ("age_sex_10y", "M 90+", 40, 0.85, 0.60, 1.10),  # uncertain: may be inside
            ("refugee", "first year", 60, 0.52, 0.42, 0.62),  # small, but surely outside
            ("predicted_decile", "D1", 50_000, 0.5, 0.49, 0.51),  # reported, not gated
        ]
    )
    check = ratio_check(ratios, GateBounds())
    assert not check.passed
    assert "refugee=first year 0.520 [0.420, 0.620] (60 persons)" in check.detail
    assert "M 90+" not in check.detail and "D1" not in check.detail
    deciles = GateBounds(gated_groups=(*GateBounds().gated_groups, "predicted_decile"))
    assert "predicted_decile=D1" in ratio_check(ratios, deciles).detail


def test_delta_method_interval_matches_the_bootstrap():
    rng = np.random.default_rng(1)
    n = 4000
    group = pd.DataFrame({"g": pd.Categorical(rng.integers(0, 2, n).astype(str))})
    y = rng.gamma(0.6, 4000, n)
    yhat = 0.7 * y.mean() + 0.3 * y + rng.normal(0, 300, n)
    w = rng.uniform(0.2, 1.0, n)
    table = predictive_ratios(group, y, yhat, w)
    boot = []
    for _ in range(400):
        pick = rng.integers(0, n, n)
        boot.append(predictive_ratios(group.iloc[pick], y[pick], yhat[pick], w[pick]))
    spread = pd.concat(boot).groupby("level")["predictive_ratio"].std()
    for row in table.itertuples():
        assert row.std_err == pytest.approx(spread[row.level], rel=0.15)
        assert row.ci_low < row.predictive_ratio < row.ci_high


def test_loosened_bounds_need_a_reason():
    loose = GateBounds(min_ratio=0.1, max_ratio=5)
    assert loose.loosened() == ["min_ratio: 0.1 (default 0.9)", "max_ratio: 5 (default 1.1)"]
    # Refused before any version exists (a training's bounds): no "version -" in the message.
    with pytest.raises(PromotionRefused, match="^gate refused: bounds loosened without --reason"):
        loose.checked(None)
    assert loose.checked("the 2027 rules allow it") is loose
    assert GateBounds(min_ratio=0.95).loosened() == []  # stricter needs no reason


def test_groups_of_the_gate_are_the_legislated_ones(tiny_model):
    calibration, _ = tiny_model
    reported_only = {"list_size", "age_sex_10y"}  # age_sex_10y: evidence on the bands
    assert set(GateBounds().gated_groups) == set(_groups(calibration).columns) - reported_only


def test_a_rule_without_a_refugee_term_is_not_gated_on_refugees_but_says_so(tiny_model):
    calibration, _ = tiny_model
    ratios = _ratios(
        [
            ("centrality", "1", 90_000, 1.0, 0.99, 1.01),
            ("refugee", "first year", 6_000, 0.55, 0.50, 0.60),  # surely outside
        ]
    )
    bundle_2026 = calibration.bundle
    model0 = replace(
        bundle_2026,
        name="model0_2023",
        indicators=bundle_2026.indicators.model_copy(update={"refugee": False}),
        scheme=bundle_2026.scheme.model_copy(update={"refugee_rate_nok": None}),
    )
    bounds = GateBounds(require_snapshot=False)
    gated = evaluate("2", bundle_2026, predictive_ratios=ratios, champion_persons=None,
                     snapshot=None, bounds=bounds)  # fmt: skip
    assert "refugee=first year 0.550" in dict(f.split(": ", 1) for f in gated.failures()).get(
        "predictive_ratios", ""
    )
    reported = evaluate("3", model0, predictive_ratios=ratios, champion_persons=None,
                        snapshot=None, bounds=bounds)  # fmt: skip
    ratio = next(check for check in reported.checks if check.name == "predictive_ratios")
    assert ratio.passed and "refugee" not in ratio.figure
    assert any("refugee reported, not gated" in note for note in reported.notes)
    assert "refugee reported, not gated" in reported.markdown()


def test_a_thin_reference_level_is_named_as_one_not_as_a_paid_level(tiny_model):
    calibration, _ = tiny_model
    bundle = calibration.bundle
    assert bundle.indicators.centrality_supplement_classes == (5, 6)
    table = bundle.weight_table.assign(persons=10 * MIN_LEVEL_PERSONS)
    thin = {("centrality", "4"): 0, ("centrality", "6"): 0, ("health_status", "0"): 12}
    for (factor, level), persons in thin.items():
        table.loc[(table["factor"] == factor) & (table["level"] == level), "persons"] = persons
    check = level_support(replace(bundle, weight_table=table))
    assert not check.passed
    assert check.detail == (
        "3 weight-table levels under 500 persons (2 empty); paid: centrality=6 (0); "
        "reference, paid no supplement: health_status=0 (12), centrality=4 (0)"
    )


@pytest.mark.parametrize(
    "bounds,needed", [(GateBounds(), "90%"), (GateBounds(min_data_share=0.875), "87.5%")]
)
def test_a_refused_data_size_states_the_share_and_the_share_needed(bounds, needed):
    check = data_size(12_000, 48_000, bounds)
    assert not check.passed
    assert check.detail == (
        f"12,000 persons are 25.0% of the champion's 48,000; at least {needed} needed"
    )
