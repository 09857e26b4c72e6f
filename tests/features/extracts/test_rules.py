"""Each build rule on hand-written extracts whose data set is known person by person."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from features.errors import BuildError
from features.extracts.build import BuildOutputs, build_dataset
from tests.features.extracts import scenario


def person(build: BuildOutputs, person_id: str) -> pd.Series:
    persons = build.dataset.persons.set_index("person_id")
    assert person_id in persons.index, f"{person_id} is not in the data set"
    return persons.loc[person_id]


def test_list_and_residence_are_those_of_the_reference_date(scenario_build):
    # P02 moved from Oslo to Bergen in April; P08's list closed in June and he moved to L1.
    assert person(scenario_build, "P02")["grunnkrets"] == "46010101"
    assert person(scenario_build, "P08")["list_id"] == "L1"
    assert person(scenario_build, "P01")["list_id"] == "L1"


def test_age_is_whole_years_on_the_reference_date(scenario_build):
    assert person(scenario_build, "P01")["age"] == 75  # born June 1950
    assert person(scenario_build, "P02")["age"] == 35  # born December 1990: birthday counted
    assert person(scenario_build, "P03")["age"] == 0  # born March 2025


def test_age_before_the_birthday_month_is_one_less(scenario_dir):
    build = build_dataset(scenario_dir, scenario.YEAR, reference_date=dt.date(2025, 11, 30))
    assert person(build, "P02")["age"] == 34
    assert person(build, "P01")["age"] == 75


def test_months_listed_count_calendar_months_of_t_on_a_list(scenario_build):
    assert person(scenario_build, "P01")["months_listed"] == 12
    assert person(scenario_build, "P03")["months_listed"] == 10  # from 20 March
    assert person(scenario_build, "P04")["months_listed"] == 11  # from 10 February
    assert person(scenario_build, "P08")["months_listed"] == 12  # moved lists within June
    assert person(scenario_build, "P09")["months_listed"] == 8  # back on a list from 2 May


def test_cost_is_reimbursement_plus_copayment_in_t_while_listed(scenario_build):
    # P01: 300.55 + 180.00 + 250.10 (frikort-covered, still the GP's income); not T - 1 or T - 2.
    assert person(scenario_build, "P01")["cost"] == pytest.approx(730.65, abs=1e-9)
    # P03's claim before her listing began is not cost; P09's claim in her gap neither.
    assert person(scenario_build, "P03")["cost"] == 600.00
    assert person(scenario_build, "P09")["cost"] == pytest.approx(111.11, abs=1e-9)
    # P08: both lists of the year count.
    assert person(scenario_build, "P08")["cost"] == 410.00
    assert person(scenario_build, "P05")["cost"] == 0.0


def test_copayment_prev_year_includes_frikort_covered_copayments(scenario_build):
    # 160.50 paid and 170.25 covered by the exemption card, both triggered in 2024.
    assert person(scenario_build, "P01")["copayment_prev_year"] == pytest.approx(330.75, abs=1e-9)
    assert person(scenario_build, "P02")["copayment_prev_year"] == 160.00
    assert person(scenario_build, "P04")["copayment_prev_year"] == 0.0


def test_refugee_first_year_from_settlement_within_twelve_months(scenario_build):
    assert bool(person(scenario_build, "P04")["refugee_first_year"]) is True  # February 2025
    assert bool(person(scenario_build, "P05")["refugee_first_year"]) is False  # November 2024
    assert bool(person(scenario_build, "P01")["refugee_first_year"]) is False


def test_refugee_window_follows_the_reference_date(scenario_dir):
    build = build_dataset(scenario_dir, scenario.YEAR, reference_date=dt.date(2025, 11, 29))
    assert bool(person(build, "P05")["refugee_first_year"]) is True  # 30 November 2024


def test_persons_off_the_data_set_are_left_out_with_their_reason(scenario_build):
    persons = set(scenario_build.dataset.persons["person_id"])
    assert persons == {"P01", "P02", "P03", "P04", "P05", "P08", "P09"}
    rows = scenario_build.reconciliation.query("source == 'persons'").set_index("reason")
    assert rows.loc["died on or before the reference date", "lines"] == 1  # P06
    assert rows.loc["not listed on the reference date", "lines"] == 1  # P07 emigrated
    assert rows.loc["no residence on the reference date", "lines"] == 1  # P10


def test_lists_are_those_open_on_the_reference_date(scenario_build):
    lists = scenario_build.dataset.lists
    assert list(lists["list_id"]) == ["L1", "L2", "L3"]  # L4 closed in June
    assert list(lists["practice_kommune"]) == ["0301", "4601", "1804"]


def test_icpc2_chapters_of_t_minus_1_per_person(scenario_build):
    chapters = scenario_build.icpc2_chapters
    assert chapters.to_pylist() == [
        {"person_id": "P01", "chapter": "K", "claims": 1},
        {"person_id": "P01", "chapter": "L", "claims": 1},
        {"person_id": "P02", "chapter": "R", "claims": 1},
    ]


def test_the_built_data_set_passes_the_training_contract(scenario_build):
    persons = scenario_build.dataset.persons
    assert persons["months_listed"].between(1, 12).all()
    assert (persons["cost"] >= 0).all()


def test_a_reference_date_outside_t_is_refused(scenario_dir):
    with pytest.raises(BuildError, match="must lie in the outcome year 2025"):
        build_dataset(scenario_dir, scenario.YEAR, reference_date=dt.date(2024, 12, 31))


def test_csv_extracts_build_the_same_data_set(tmp_path, scenario_build):
    directory = scenario.write(scenario.tables(), tmp_path / "csv", fmt="csv")
    build = build_dataset(directory, scenario.YEAR)
    pd.testing.assert_frame_equal(build.dataset.persons, scenario_build.dataset.persons)
    pd.testing.assert_frame_equal(build.reconciliation, scenario_build.reconciliation)
