"""Model 0 and the 2026 rule as legislated: presets, centrality supplement, budgets with U."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from features.basistilskudd import list_facts, utjamning_money
from features.contract import validate_dataset
from features.grants import person_grants
from features.indicators import (
    ReferenceTables,
    derive_features,
    persons_with_practice,
    preset,
    preset_spec,
)
from features.synth import synthesise
from training.fit import calibrate


@pytest.fixture(scope="module")
def country_sample():
    """Enough persons that every kommune has a list, so small kommuner qualify for utjamning."""
    return validate_dataset(synthesise(400_000, seed=3), training=True)


@pytest.fixture(scope="module")
def calibrations(country_sample):
    return {name: calibrate(country_sample, name=name) for name in ("model0_2023", "model_2026")}


def test_model0_is_six_age_groups_by_sex_with_a_dampening_of_a_half():
    config, dampening = preset("model0_2023")
    assert len(config.age_edges) == 6
    assert dampening == 0.5
    assert config.education_area == "kommune_or_bydel"
    assert config.centrality_of == "residence"
    assert config.centrality_supplement_classes == (5, 6)
    assert not config.refugee


def test_model_2026_is_model0_plus_exactly_the_four_reform_changes():
    old, new = preset_spec("model0_2023"), preset_spec("model_2026")
    changed = {k for k in old["indicators"] if old["indicators"][k] != new["indicators"][k]}
    assert changed == {"education_area", "centrality_of", "refugee"}
    assert (new["indicators"]["education_area"], new["indicators"]["centrality_of"]) == (
        "grunnkrets",
        "practice",
    )
    assert new["dampening"] == 0.0
    assert new["scheme"]["utjamning_to_centrality"] and not old["scheme"]["utjamning_to_centrality"]


def test_the_finer_bands_are_a_challenger_of_the_2026_rule_that_changes_only_the_bands():
    rule, fine = preset_spec("model_2026"), preset_spec("model_2026_fine_bands")
    changed = {k for k in rule["indicators"] if rule["indicators"][k] != fine["indicators"][k]}
    assert changed == {"age_edges", "copayment_edges"}
    assert fine["challenger"] is True and fine["rule"] == "model_2026"


@pytest.mark.parametrize("name", ["model0_2023", "model_2026"])
def test_classes_1_to_4_get_no_centrality_supplement_and_5_6_never_a_negative_one(
    calibrations, name
):
    table = calibrations[name].bundle.weight_table
    centrality = table[table["factor"] == "centrality"].set_index("level")["effect_nok"]
    assert (centrality[["1", "2", "3", "4"]] == 0).all()
    assert (centrality[["5", "6"]] >= 0).all()
    assert centrality[["5", "6"]].sum() > 0  # the synthetic cost model has a rural supplement


def test_a_negative_centrality_estimate_is_dropped_not_paid(country_sample):
    # Costs in class 5-6 practice kommuner cut hard: the estimate would be negative.
    persons = persons_with_practice(country_sample)
    central = country_sample.kommuner.set_index("kommune")["centrality"]
    rural = persons["practice_kommune"].map(central).to_numpy() >= 5
    cheaper = country_sample.persons.assign(
        cost=np.where(rural, country_sample.persons["cost"] * 0.5, country_sample.persons["cost"])
    )
    table = calibrate(replace(country_sample, persons=cheaper), name="model_2026").bundle
    centrality = table.weight_table[table.weight_table["factor"] == "centrality"]
    assert (centrality["effect_nok"] == 0).all()


def test_model0_measures_education_by_bydel_where_the_kommune_has_bydeler(country_sample):
    reference = ReferenceTables.from_dataset(country_sample)
    gk = country_sample.grunnkretser
    oslo = gk[gk["bydel"].notna()].iloc[0]
    bydel = gk[gk["bydel"] == oslo["bydel"]]["grunnkrets"]
    persons = country_sample.persons
    residents = persons[persons["grunnkrets"].isin(bydel)]["grunnkrets"].value_counts()
    shares = gk.set_index("grunnkrets")["primary_only_share"]
    weights = residents.reindex(bydel).fillna(0).to_numpy() + 1e-9
    expected = np.average(shares[bydel].to_numpy(), weights=weights)
    assert reference.district_shares[oslo["grunnkrets"]] == pytest.approx(expected)
    elsewhere = gk[gk["bydel"].isna()].iloc[0]["grunnkrets"]
    kommune = reference.kommune_shares[elsewhere[:4]]
    assert reference.district_shares[elsewhere] == pytest.approx(kommune)
    config, _ = preset("model0_2023")
    one = persons.iloc[[0]].assign(grunnkrets=oslo["grunnkrets"], practice_kommune="0301")
    features = derive_features(one, reference, config)
    assert features["education_share"].iloc[0] == pytest.approx(expected)


def test_ptb_grants_add_up_to_the_budget_within_1_nok(calibrations, country_sample):
    bundle = calibrations["model0_2023"].bundle
    total = person_grants(bundle, country_sample)["grant_nok"].sum()
    assert abs(total - bundle.budget_nok) < 1.0


def test_under_2026_ptb_with_centrality_equals_the_old_budget_plus_u(calibrations, country_sample):
    bundle = calibrations["model_2026"].bundle
    persons = country_sample.persons["list_id"].astype("string").value_counts()
    population = country_sample.kommuner.set_index("kommune")["population"]
    money, _ = utjamning_money(list_facts(country_sample.lists, persons), population, 841.80)
    assert money is not None and money > 0
    assert bundle.scheme.utjamning_moved_nok == pytest.approx(money)
    old_budget = 841.80 * len(country_sample.persons)
    total = person_grants(bundle, country_sample)["grant_nok"].sum()
    assert abs(total - (old_budget + money)) < 1.0
    # The strengthening is paid only on lists in class 5-6 practice kommuner, split by share.
    per_person = bundle.scheme.centrality_strengthening_nok
    features = derive_features(
        persons_with_practice(country_sample), bundle.reference, bundle.indicators
    )
    level = features["centrality"].to_numpy()
    class6 = per_person[6] * (level == 5).sum()
    assert class6 == pytest.approx(money * bundle.scheme.utjamning_class6_share)
    assert per_person[5] * (level == 4).sum() + class6 == pytest.approx(money)


def test_a_data_set_without_the_list_facts_is_priced_and_names_what_is_not_computable(
    country_sample,
):
    bare = replace(
        country_sample,
        lists=country_sample.lists[["list_id", "practice_kommune"]],
        kommuner=country_sample.kommuner.drop(columns=["population"]),
    )
    bare = validate_dataset(bare, training=True)
    bundle = calibrate(bare, name="model_2026").bundle
    assert bundle.scheme.utjamning_moved_nok is None
    assert any("population" in reason for reason in bundle.metadata["not_computable"])
    total = person_grants(bundle, bare)["grant_nok"].sum()
    assert abs(total - bundle.budget_nok) < 1.0


def test_the_bundle_keeps_u_and_the_bydel_shares(calibrations, tmp_path):
    from features.bundle import ModelBundle

    for name in ("model0_2023", "model_2026"):
        bundle = calibrations[name].bundle
        loaded = ModelBundle.load(bundle.save(tmp_path / name))
        assert loaded.scheme == bundle.scheme
        assert loaded.reference.district_shares == pytest.approx(bundle.reference.district_shares)
    pd.testing.assert_series_equal(
        loaded.reference.grunnkrets_share, bundle.reference.grunnkrets_share, check_names=False
    )
