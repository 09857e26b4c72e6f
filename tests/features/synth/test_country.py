"""The synthetic population: deterministic, in the contract, shaped like Norway's lists."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.contract import load_dataset, validate_dataset, write_dataset
from features.synth import age_cost_curve, load_parameters, synthesise

N_PERSONS = 200_000


@pytest.fixture(scope="module")
def dataset():
    return synthesise(N_PERSONS, seed=7, include_expected_cost=True)


@pytest.fixture(scope="module")
def persons(dataset):
    """Persons with their residence and practice kommune, centrality and education share."""
    frame = dataset.persons.copy()
    centrality = dataset.kommuner.set_index("kommune")["centrality"]
    share = dataset.grunnkretser.set_index("grunnkrets")["primary_only_share"]
    frame["home"] = frame["grunnkrets"].str.slice(0, 4)
    frame["practice"] = frame["list_id"].map(dataset.lists.set_index("list_id")["practice_kommune"])
    frame["home_class"] = frame["home"].map(centrality).astype(int)
    frame["practice_class"] = frame["practice"].map(centrality).astype(int)
    frame["share"] = share.reindex(frame["grunnkrets"]).to_numpy()
    return frame


@pytest.fixture(scope="module")
def parameters():
    return load_parameters()


def test_same_seed_gives_identical_tables():
    first, second = synthesise(20_000, seed=11), synthesise(20_000, seed=11)
    for table in ("persons", "lists", "kommuner", "grunnkretser"):
        pd.testing.assert_frame_equal(first.table(table), second.table(table))


def test_different_seeds_give_different_persons():
    first, second = synthesise(20_000, seed=11), synthesise(20_000, seed=12)
    for column in ("age", "sex", "list_id", "cost", "copayment_prev_year"):
        assert not first.persons[column].equals(second.persons[column])
    share = "primary_only_share"
    assert not first.grunnkretser[share].equals(second.grunnkretser[share])


def test_output_passes_the_contract_for_training(dataset):
    checked = validate_dataset(dataset, training=True)
    assert checked.row_counts == dataset.row_counts


def test_written_parquet_loads_back_as_training_data(tmp_path):
    written = synthesise(3_000, seed=3)
    loaded = load_dataset(write_dataset(written, tmp_path), training=True)
    assert loaded.row_counts == written.row_counts
    assert loaded.persons["grunnkrets"].tolist() == written.persons["grunnkrets"].tolist()


def test_list_count_is_about_one_per_1020_persons(dataset):
    assert len(dataset.lists) == round(N_PERSONS / 1020)
    assert dataset.persons["list_id"].isin(dataset.lists["list_id"]).all()


def test_all_357_kommuner_are_present(dataset, persons):
    assert len(dataset.kommuner) == 357
    assert persons["home"].nunique() == 357
    assert dataset.grunnkretser["grunnkrets"].str.slice(0, 4).nunique() == 357


def test_codes_are_strings_with_leading_zeros(dataset):
    kommune = dataset.kommuner["kommune"]
    assert pd.api.types.is_string_dtype(kommune.dtype)
    assert "0301" in set(kommune)
    assert kommune.str.fullmatch(r"\d{4}").all()
    assert dataset.grunnkretser["grunnkrets"].str.fullmatch(r"\d{8}").all()
    assert dataset.persons["person_id"].is_unique
    assert dataset.persons["person_id"].iloc[0] == "P0000001"


def test_grunnkrets_prefixes_are_kommune_numbers(dataset):
    prefixes = dataset.grunnkretser["grunnkrets"].str.slice(0, 4)
    assert prefixes.isin(dataset.kommuner["kommune"]).all()
    assert dataset.grunnkretser["grunnkrets"].is_unique


def test_grunnkretser_are_about_proportional_to_population(dataset):
    expected = 14_000 * N_PERSONS / 5_550_203
    assert max(357, 0.9 * expected) <= len(dataset.grunnkretser) <= max(357, 1.1 * expected) + 357
    assert len(synthesise(500, seed=1).grunnkretser) == 357


def test_copayments_stay_within_the_ceiling(dataset, parameters):
    copayment = dataset.persons["copayment_prev_year"]
    assert copayment.min() >= 0
    assert copayment.max() <= parameters["copayment"]["ceiling_nok"]
    children = dataset.persons["age"] <= parameters["copayment"]["exempt_below_age"]
    assert (copayment[children] == 0).all()


def test_about_a_fifth_have_zero_cost(dataset):
    assert 0.15 <= (dataset.persons["cost"] == 0).mean() <= 0.27


def test_cost_has_a_plausible_mean_and_a_long_right_tail(dataset):
    cost = dataset.persons["cost"]
    assert 2_000 <= cost.mean() <= 3_000
    assert cost.quantile(0.99) > 4 * cost.mean()
    assert cost.mean() > cost.median()


def test_refugees_are_about_half_a_percent_and_younger(dataset):
    refugee = dataset.persons["refugee_first_year"]
    tolerance = 5 * np.sqrt(0.005 * 0.995 / N_PERSONS)
    assert abs(refugee.mean() - 0.005) < tolerance
    assert dataset.persons["age"][refugee].mean() < dataset.persons["age"].mean() - 5


def test_months_listed_is_mostly_twelve_and_less_for_refugees(dataset):
    months = dataset.persons["months_listed"]
    assert months.between(1, 12).all()
    assert (months == 12).mean() > 0.9
    assert (months[dataset.persons["refugee_first_year"]] < 12).mean() > 0.8


def test_last_years_copayment_predicts_cost(dataset):
    persons = dataset.persons
    assert np.corrcoef(persons["copayment_prev_year"], persons["cost"])[0, 1] > 0.3
    adults = persons[persons["age"] >= 18]
    top = adults["copayment_prev_year"] >= adults["copayment_prev_year"].quantile(0.9)
    assert adults["cost"][top].mean() > 2 * adults["cost"][~top].mean()


def test_expected_cost_is_the_mean_of_annualised_cost(dataset):
    persons = dataset.persons
    annualised = persons["cost"] * 12 / persons["months_listed"]
    gap = annualised - persons["expected_cost"]
    standard_error = gap.std() / np.sqrt(len(gap))
    assert abs(gap.mean()) < 4 * standard_error
    assert (persons["expected_cost"] > 0).all()


def test_expected_cost_is_the_age_curve_times_health_plus_the_additive_effects(persons, parameters):
    """Without the documented additive effects, what is left is a(age, sex) * h with E[h] = 1."""
    model = parameters["cost_model"]
    curve = age_cost_curve(persons["age"].to_numpy(), persons["sex"].to_numpy(), parameters)
    additive = (
        np.where(persons["share"] > model["education_threshold"], model["education_nok"], 0)
        + persons["practice_class"].map(model["centrality_nok"]).to_numpy()
        + persons["refugee_first_year"] * model["refugee_nok"]
    )
    health_part = persons["expected_cost"] - additive
    assert (health_part > 0).all()
    # h has mean 1, so the health part averages to the age curve (within sampling error).
    ratio = health_part / curve
    assert abs(ratio.mean() - 1) < 5 * ratio.std() / np.sqrt(len(ratio))


def test_persons_are_mostly_listed_in_their_residence_kommune(persons):
    at_home = (persons["home"] == persons["practice"]).mean()
    assert at_home > 0.75
    away = persons[persons["home"] != persons["practice"]]
    assert (away["home"].str.slice(0, 2) == away["practice"].str.slice(0, 2)).mean() > 0.9


def test_country_lists_at_home_is_about_ninety_percent():
    big = synthesise(600_000, seed=5)
    practice = big.persons["list_id"].map(big.lists.set_index("list_id")["practice_kommune"])
    at_home = (practice == big.persons["grunnkrets"].str.slice(0, 4)).mean()
    assert 0.85 <= at_home <= 0.95


def test_lists_are_longer_in_central_kommuner(persons):
    lengths = persons.groupby(["practice_class", "list_id"]).size()
    by_class = lengths.groupby(level="practice_class").mean()
    assert by_class[[1, 2]].mean() > 1_050
    assert by_class[[5, 6]].mean() < 850


def test_rural_grunnkretser_have_more_primary_only_education(persons, parameters):
    by_class = persons.groupby("home_class")["share"].mean()
    assert by_class[6] > by_class[1] + 0.08
    above = (persons["share"] > parameters["cost_model"]["education_threshold"]).mean()
    assert 0.2 <= above <= 0.45


def test_rural_kommuner_are_older(persons):
    by_class = persons.groupby("home_class")["age"].mean()
    assert by_class[6] > by_class[1] + 5


def test_more_men_young_and_more_women_old(dataset):
    persons = dataset.persons
    young, old = persons[persons["age"] < 40], persons[persons["age"] >= 80]
    assert (young["sex"] == "M").mean() > 0.505
    assert (old["sex"] == "F").mean() > 0.55


def test_age_curve_is_smooth_and_shaped_like_gp_use(parameters):
    ages = np.arange(0, 101)
    women = age_cost_curve(ages, np.full(ages.size, "F"), parameters)
    men = age_cost_curve(ages, np.full(ages.size, "M"), parameters)
    assert women[0] > 2 * women[12] and men[0] > 2 * men[12]
    assert women[25:40].mean() > 1.5 * men[25:40].mean()
    assert men[90] > 3 * men[20] and men[90] > 2 * men[50]
    # No jumps between single years after infancy: bands, not the curve, make tariffs misfit.
    assert np.abs(np.diff(women[4:], 2)).max() < 60
    assert np.abs(np.diff(men[4:], 2)).max() < 60


def test_a_tiny_population_still_has_every_table():
    tiny = synthesise(500, seed=1)
    validate_dataset(tiny, training=True)
    assert len(tiny.persons) == 500 and len(tiny.kommuner) == 357 and len(tiny.lists) >= 1


def test_progress_bar_reports_on_stderr(capsys):
    synthesise(1_000, seed=1, progress=True)
    assert "synthesising" in capsys.readouterr().err


def test_n_persons_below_one_is_refused():
    with pytest.raises(ValueError, match="n_persons"):
        synthesise(0)
