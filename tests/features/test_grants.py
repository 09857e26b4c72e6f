"""The grant path shared by ``ptb grants`` and the API equals the one definition of features
and pricing, and its sums keep the budget."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from features import grants as grants_module
from features.contract import Dataset
from features.errors import UnknownCodeError
from features.grants import (
    LIST_GRANTS_FILE,
    PERSON_GRANTS_FILE,
    PersonColumns,
    PersonScorer,
    PersonTable,
    apportion_nok,
    list_grants,
    person_grants,
    write_grants,
)
from features.indicators import derive_features, persons_with_practice
from features.scheme import SchemeParameters, round_nok
from training.fit import calibrate


@pytest.fixture(scope="module")
def persons(tiny_dataset: Dataset) -> pd.DataFrame:
    return persons_with_practice(tiny_dataset)


@pytest.fixture(scope="module")
def table(tiny_dataset: Dataset) -> PersonTable:
    return PersonTable.from_dataset(tiny_dataset)


@pytest.mark.parametrize("education_area", ["grunnkrets", "kommune"])
@pytest.mark.parametrize("centrality_of", ["practice", "residence"])
@pytest.mark.parametrize("refugee", [True, False])
def test_features_equal_derive_features_for_every_indicator_option(
    bundle, persons, table, education_area, centrality_of, refugee
):
    indicators = bundle.indicators.model_copy(
        update={
            "education_area": education_area,
            "centrality_of": centrality_of,
            "refugee": refugee,
        }
    )
    scorer = PersonScorer(replace(bundle, indicators=indicators))
    expected = derive_features(persons, bundle.reference, indicators)
    found = scorer.features(table.columns)
    assert list(found) == list(expected.columns)
    for column in expected.columns:
        assert found[column].dtype == expected[column].dtype, column
        np.testing.assert_array_equal(found[column], expected[column].to_numpy(), err_msg=column)


@pytest.mark.parametrize("name", ["model_2026", "model0_2023"])
@pytest.mark.parametrize("refugee_rate_nok", [None, 5000.0])
def test_scores_equal_bundle_score(tiny_dataset, persons, table, name, refugee_rate_nok):
    scheme = None if refugee_rate_nok is None else SchemeParameters(refugee_rate_nok=5000.0)
    bundle = calibrate(tiny_dataset, name=name, scheme=scheme).bundle
    expected = bundle.score(persons)
    found = PersonScorer(bundle).score(table.columns, contributions=True)
    np.testing.assert_array_equal(found.weight, expected.weight)
    np.testing.assert_array_equal(found.grant_nok, expected.grant_nok)
    assert found.contributions.keys() == expected.contributions.keys()
    for factor, nok in expected.contributions.items():
        np.testing.assert_array_equal(found.contributions[factor], nok, err_msg=factor)


def test_pricing_person_by_person_equals_pricing_by_cell(bundle, table, monkeypatch):
    by_cell = PersonScorer(bundle).score(table.columns, contributions=True)
    monkeypatch.setattr(grants_module, "MAX_CELLS", 10)
    by_person = PersonScorer(bundle)
    assert by_person.cell_scores is None
    direct = by_person.score(table.columns, contributions=True)
    np.testing.assert_array_equal(direct.grant_nok, by_cell.grant_nok)
    np.testing.assert_array_equal(direct.contributions["age_sex"], by_cell.contributions["age_sex"])


def test_person_alone_gets_the_grant_it_gets_inside_the_data_set(bundle, persons, table):
    scorer = PersonScorer(bundle)
    inside = scorer.score(table.columns)
    for row in (0, 17, 4321, len(persons) - 1):
        person = persons.iloc[row]
        alone = PersonColumns.from_records(
            age=[int(person["age"])],
            sex=[str(person["sex"])],
            grunnkrets=[str(person["grunnkrets"])],
            copayment_prev_year=[float(person["copayment_prev_year"])],
            refugee_first_year=[bool(person["refugee_first_year"])],
            practice_kommune=[str(person["practice_kommune"])],
        )
        assert scorer.score(alone).grant_nok[0] == inside.grant_nok[row]


def test_dampening_half_gives_weights_halfway_to_one(tiny_dataset, bundle):
    dampened = calibrate(tiny_dataset, scheme=SchemeParameters(dampening=0.5)).bundle
    undamped = person_grants(bundle, tiny_dataset)["weight"].to_numpy()
    halfway = person_grants(dampened, tiny_dataset)["weight"].to_numpy()
    np.testing.assert_allclose(halfway, (undamped + 1.0) / 2.0, rtol=1e-12)


def test_list_total_equals_sum_of_person_grants(tiny_dataset, bundle):
    persons = person_grants(bundle, tiny_dataset)
    lists = list_grants(persons).set_index("list_id")
    summed = persons.groupby("list_id", observed=True)["grant_nok"].agg(["sum", "size"])
    np.testing.assert_array_equal(lists.loc[summed.index, "persons"], summed["size"])
    np.testing.assert_array_equal(lists.loc[summed.index, "total_nok"], round_nok(summed["sum"]))
    rounded_persons = round_nok(persons["grant_nok"].to_numpy())
    by_list = pd.Series(rounded_persons).groupby(persons["list_id"].to_numpy()).sum()
    slack = 0.005 * lists.loc[by_list.index, "persons"] + 1e-6
    assert (np.abs(lists.loc[by_list.index, "total_nok"] - by_list) <= slack).all()


def test_lists_of_the_training_population_add_up_to_the_budget(tiny_dataset, bundle):
    lists = list_grants(person_grants(bundle, tiny_dataset))
    assert lists["total_nok"].sum() == pytest.approx(bundle.budget_nok, abs=1.0)


def test_list_grants_accepts_plain_string_list_ids(tiny_dataset, bundle):
    persons = person_grants(bundle, tiny_dataset)
    plain = persons.assign(list_id=persons["list_id"].astype("string"))
    pd.testing.assert_frame_equal(list_grants(plain), list_grants(persons))


@pytest.mark.parametrize(
    ("field", "column", "value"),
    [("grunnkrets", "grunnkrets", "99999999"), ("practice_kommune", "practice_kommune", "9999")],
)
def test_unknown_code_names_its_field(bundle, field, column, value):
    record = {
        "age": [40],
        "sex": ["F"],
        "grunnkrets": [str(bundle.reference.grunnkrets_share.index[0])],
        "copayment_prev_year": [0.0],
        "refugee_first_year": [False],
        "practice_kommune": [str(bundle.reference.kommune_centrality.index[0])],
    }
    record[column] = [value]
    with pytest.raises(UnknownCodeError, match=f"{field}: unknown .* {value}") as caught:
        PersonScorer(bundle).score(PersonColumns.from_records(**record))
    assert caught.value.field == field
    assert caught.value.codes == (value,)


@pytest.mark.parametrize(
    "contributions",
    [
        {"a": 100.004, "b": 200.004, "c": 300.004},
        {"a": 0.333333, "b": 0.333333, "c": 0.333334},
        {"a": 1234.5678, "b": -15.2549, "c": 0.0, "flat": 420.9},
    ],
)
def test_apportioned_contributions_add_up_to_the_rounded_grant(contributions):
    grant = sum(contributions.values())
    rounded = apportion_nok(contributions, grant)
    assert round(sum(rounded.values()) * 100) == round(round_nok(grant) * 100)
    for name, nok in contributions.items():
        assert abs(rounded[name] - nok) < 0.01 + 1e-9


def test_write_grants_writes_both_files_with_fixed_columns(tiny_dataset, bundle, tmp_path):
    person_path, list_path = write_grants(bundle, tiny_dataset, tmp_path)
    assert (person_path.name, list_path.name) == (PERSON_GRANTS_FILE, LIST_GRANTS_FILE)
    persons, lists = pd.read_parquet(person_path), pd.read_parquet(list_path)
    assert list(persons.columns) == ["person_id", "list_id", "weight", "grant_nok"]
    assert list(lists.columns)[:3] == ["list_id", "persons", "total_nok"]
    assert len(persons) == len(tiny_dataset.persons)
    assert len(lists) == len(tiny_dataset.lists)
    np.testing.assert_array_equal(persons["grant_nok"], round_nok(persons["grant_nok"]))
    assert lists["total_nok"].sum() == pytest.approx(bundle.budget_nok, abs=1.0)
