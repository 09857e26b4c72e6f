"""The lists' practice facts (contract 1.1): validated when present, optional when absent, and
drawn by the synthetic population where the basistilskudd rules bite."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from features.basistilskudd import list_facts, utjamningstilskudd
from features.contract import LIST_FACTS, load_dataset, validate_dataset, write_dataset
from features.errors import ContractError
from features.synth import size_band, synthesise


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_list_facts_round_trip_with_their_types(tiny_dataset, tmp_path, fmt):
    write_dataset(tiny_dataset, tmp_path, fmt=fmt)
    lists = load_dataset(tmp_path).lists
    assert set(LIST_FACTS) <= set(lists.columns)
    assert set(lists["form_of_practice"]) <= {"self_employed", "salaried"}
    assert lists["list_cap"].dtype == "int64"
    assert pd.api.types.is_datetime64_any_dtype(lists["agreement_start"])
    pd.testing.assert_series_equal(
        lists["agreement_start"], tiny_dataset.lists["agreement_start"], check_dtype=False
    )


def test_a_data_set_without_list_facts_still_validates(tiny_dataset, tmp_path):
    write_dataset(
        replace(tiny_dataset, lists=tiny_dataset.lists.drop(columns=list(LIST_FACTS))), tmp_path
    )
    lists = load_dataset(tmp_path, training=True).lists
    assert list(lists.columns) == ["list_id", "practice_kommune"]


def test_bad_list_facts_are_refused_with_column_rule_and_rows(tiny_dataset, tmp_path):
    lists = tiny_dataset.lists.copy()
    lists["form_of_practice"] = lists["form_of_practice"].astype(object)
    lists.loc[[1, 4], "form_of_practice"] = "freelance"
    lists["agreement_start"] = lists["agreement_start"].dt.strftime("%Y-%m-%d").astype(object)
    lists.loc[2, "agreement_start"] = "31.12.2025"
    lists.loc[3, "list_cap"] = -5
    write_dataset(replace(tiny_dataset, lists=lists), tmp_path, fmt="csv")
    with pytest.raises(ContractError) as refused:
        load_dataset(tmp_path)
    message = str(refused.value)
    assert (
        "lists.form_of_practice: 2 rows not one of self_employed, salaried (rows 2, 5)" in message
    )
    assert "lists.agreement_start: 1 row not a date (YYYY-MM-DD) (row 3)" in message


def test_a_negative_list_cap_is_refused(tiny_dataset):
    lists = tiny_dataset.lists.assign(
        list_cap=tiny_dataset.lists["list_cap"].where(tiny_dataset.lists.index != 0, -5)
    )
    with pytest.raises(ContractError, match=r"lists.list_cap: 1 row below 0 \(row 1\)"):
        validate_dataset(replace(tiny_dataset, lists=lists))


@pytest.fixture(scope="module")
def country_sample():
    return synthesise(600_000, seed=5)


def test_small_kommuner_have_more_salaried_gps_and_shorter_lists(country_sample):
    lists = country_sample.lists
    population = country_sample.kommuner.set_index("kommune")["population"]
    band = size_band(lists["practice_kommune"].map(population).to_numpy())
    salaried = (lists["form_of_practice"] == "salaried").to_numpy()
    assert salaried[band == 0].mean() > 2 * salaried[band == 2].mean()
    persons = country_sample.persons["list_id"].value_counts()
    length = lists["list_id"].map(persons).fillna(0).to_numpy()
    assert length[band == 0].mean() < 1200 < length[band == 2].mean()


def test_some_kommuner_qualify_for_utjamning_and_some_new_lists_for_grunntilskudd(country_sample):
    persons = country_sample.persons["list_id"].astype("string").value_counts()
    facts = list_facts(country_sample.lists, persons)
    population = country_sample.kommuner.set_index("kommune")["population"]
    amounts, reasons = utjamningstilskudd(facts, population, 841.80)
    assert not reasons
    qualifying = facts.loc[amounts > 0, "practice_kommune"].nunique()
    assert 10 <= qualifying < (population < 5000).sum()
    start = pd.to_datetime(facts["agreement_start"])
    new = start > pd.Timestamp("2024-11-01")
    short = (facts["persons"] < 500) & (facts["list_cap"] >= 500)
    assert (new & short).sum() >= 5
    assert (facts["list_cap"] >= np.minimum(facts["persons"], 500)).mean() > 0.95
