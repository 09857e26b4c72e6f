"""``ptb compare``'s tables: noise between two samples is not flagged, a shifted effect is."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from features import synthesise, validate_dataset
from training.compare import ModelFacts, compare, compare_weights
from training.compare_report import summary_lines, write_html
from training.fit import calibrate
from training.pipeline import TrainingOptions, _validate_tariff
from training.provenance import data_profile

SHIFT_NOK = 1500  # added to the annual cost of every woman aged 40-59 (one band of the rules)


@pytest.fixture(scope="module")
def other_sample():
    """A second sample of the same population (another seed of the generator)."""
    return validate_dataset(synthesise(20_000, 9), training=True)


@pytest.fixture(scope="module")
def shifted(other_sample):
    persons = other_sample.persons.copy()
    women = (persons["sex"] == "F") & persons["age"].between(40, 59)
    persons.loc[women, "cost"] += SHIFT_NOK * persons.loc[women, "months_listed"] / 12
    return replace(other_sample, persons=persons)


def facts(dataset, label):
    calibration = calibrate(dataset)
    report = _validate_tariff(calibration, TrainingOptions(folds=2))
    return ModelFacts(
        label, calibration.bundle, report.metrics, report.predictive_ratios, data_profile(dataset)
    )


def test_two_samples_of_one_population_differ_only_by_noise(tiny_dataset, other_sample):
    weights = compare_weights(calibrate(tiny_dataset).bundle, calibrate(other_sample).bundle)
    assert not weights["beyond_noise"].any(), weights.loc[weights["beyond_noise"]]
    # every estimated level of the 2026 rule was compared (12 age-sex groups, the copayment bands,
    # education, the class 5-6 supplements, refugees; less the reference levels)
    assert weights["z"].notna().sum() > 15


def test_a_shifted_effect_is_flagged_and_nothing_else(tiny_dataset, shifted):
    weights = compare_weights(calibrate(tiny_dataset).bundle, calibrate(shifted).bundle)
    flagged = weights[weights["beyond_noise"]]
    assert list(zip(flagged["factor"], flagged["level"], strict=True)) == [("age_sex", "F 40-59")]
    assert flagged["change_nok"].iloc[0] == pytest.approx(SHIFT_NOK, abs=600)


def test_the_report_prices_the_redistribution_and_shows_the_drift(tiny_dataset, shifted, tmp_path):
    a, b = facts(tiny_dataset, "version 1"), facts(shifted, "version 2")
    comparison = compare(a, b, tiny_dataset)
    lists = comparison.redistribution["list"]
    assert len(lists) == len(tiny_dataset.lists)
    for key in ("kommune", "centrality"):
        table = comparison.redistribution[key]
        assert table["total_nok_a"].sum() == pytest.approx(lists["total_nok_a"].sum())
    # Both are budget-neutral over their own data; on one snapshot the totals stay close.
    assert lists["total_nok_b"].sum() == pytest.approx(lists["total_nok_a"].sum(), rel=0.05)
    drift = comparison.drift.set_index("figure")
    assert drift.loc["rows.persons", "a"] == 20_000
    assert np.isfinite(drift.loc["mean_cost_nok", "change_pct"])
    text = "\n".join(summary_lines(comparison))
    assert "age_sex=F 40-59" in text and "version 2 against version 1" in text
    page = write_html(comparison, tmp_path / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 3 and "Redistribution per kommune" in page
    assert set(comparison.ratios["group"]) >= {"centrality", "predicted_decile", "refugee"}
