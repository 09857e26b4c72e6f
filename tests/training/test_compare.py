"""``ptb compare``'s tables: noise between two samples is not flagged, a shifted effect is."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from features import Release, synthesise, validate_dataset
from training.compare import ModelFacts, compare, compare_weights
from training.compare_report import NO_SNAPSHOT, summary_lines, write_html
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


@pytest.fixture(scope="module")
def tiny_facts(tiny_dataset):
    return facts(tiny_dataset, "version 1")


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
    # Priced as paid, both spend the snapshot's budget, whatever data each was trained on.
    budget = a.bundle.scheme.budget_for(len(tiny_dataset.persons))
    for version in ("a", "b"):
        assert abs(lists[f"total_nok_{version}"].sum() - budget) < len(lists)
    drift = comparison.drift.set_index("figure")
    assert drift.loc["rows.persons", "a"] == 20_000
    assert np.isfinite(drift.loc["mean_cost_nok", "change_pct"])
    text = "\n".join(summary_lines(comparison))
    assert "age_sex=F 40-59" in text and "version 2 against version 1" in text
    page = write_html(comparison, tmp_path / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 3 and "Redistribution per kommune" in page
    assert set(comparison.ratios["group"]) >= {"centrality", "predicted_decile", "refugee"}


def with_education_shares_moved(dataset, by: float):
    """The same persons in a release whose grunnkretser report other education shares."""
    grunnkretser = dataset.grunnkretser.assign(
        primary_only_share=(dataset.grunnkretser["primary_only_share"] + by).clip(0, 1)
    )
    return replace(dataset, grunnkretser=grunnkretser)


def test_versions_differing_only_in_training_release_redistribute_nothing(tiny_dataset, tiny_facts):
    """Payment prices every version with the snapshot's release, not the one it trained on."""
    moved = Release.from_dataset(with_education_shares_moved(tiny_dataset, 0.15), "moved")
    b = replace(
        tiny_facts, label="version 2", bundle=replace(tiny_facts.bundle, reference=moved.reference)
    )
    tables = compare(tiny_facts, b, tiny_dataset).redistribution
    for table in tables.values():
        assert (table["change_nok"].abs() < 0.01).all(), table[table["change_nok"].abs() >= 0.01]
    lists = tables["list"]
    budget = tiny_facts.bundle.scheme.budget_for(len(tiny_dataset.persons))
    for version in ("a", "b"):
        assert abs(lists[f"total_nok_{version}"].sum() - budget) < len(lists)


def test_redistribution_spends_the_period_budget_of_the_snapshot_release(tiny_dataset, tiny_facts):
    """A release naming the period's average grant sets the rate both versions are paid at."""
    release = replace(Release.from_dataset(tiny_dataset, "2027"), average_grant_nok=900.0)
    comparison = compare(tiny_facts, tiny_facts, tiny_dataset, release)
    lists = comparison.redistribution["list"]
    for version in ("a", "b"):
        total = lists[f"total_nok_{version}"].sum()
        assert abs(total - 900.0 * len(tiny_dataset.persons)) < len(lists)
    assert comparison.priced_on.startswith("2027")


def test_the_terminal_shows_intervals_ratios_kommuner_and_classes(tiny_dataset, tiny_facts):
    ratios = tiny_facts.ratios.copy()
    worse = (ratios["group"] == "centrality") & (ratios["level"].astype(str) == "2")
    ratios.loc[worse, ["predictive_ratio", "ci_low", "ci_high", "std_err"]] = [
        0.7,
        0.66,
        0.74,
        0.02,
    ]
    b = replace(tiny_facts, label="version 2", ratios=ratios)
    comparison = compare(tiny_facts, b, tiny_dataset)
    text = "\n".join(summary_lines(comparison))
    weight = tiny_facts.bundle.weight_table.set_index(["factor", "level"]).loc[
        ("education", "share > 0.28")
    ]
    interval = f"[{weight['ci_low']:,.0f}, {weight['ci_high']:,.0f}]"
    assert f"education=share > 0.28: {weight['effect_nok']:,.0f} {interval} -> " in text
    for row in comparison.ratios.itertuples():
        assert f"    {row.group}={row.level}: " in text
    # Only the level made worse changed beyond noise; it is also flagged as outside the bounds.
    changed = [line for line in text.splitlines() if "<- " in line and "beyond noise" in line]
    assert len(changed) == 1 and changed[0].startswith("    centrality=2: 1.0")
    assert "<- B outside 0.9-1.1" in changed[0]
    for kommune in comparison.redistribution["kommune"]["practice_kommune"].head(1):
        assert f"kommune {kommune}:" in text
    for centrality in comparison.redistribution["centrality"]["centrality"]:
        assert f"    class {centrality}: " in text
    assert NO_SNAPSHOT not in text


def test_without_a_snapshot_the_report_says_redistribution_was_not_computed(tiny_facts, tmp_path):
    comparison = compare(tiny_facts, tiny_facts)
    text = "\n".join(summary_lines(comparison))
    assert "redistribution: NOT computed" in text and "--snapshot" in text
    page = write_html(comparison, tmp_path / "report.html").read_text()
    assert "redistribution: NOT computed" in page
    assert "ci_low_a" in page and "ci_high_b" in page  # the weights' intervals, both versions
