"""The list-level lines of the basistilskudd: utjamningstilskudd and grunntilskudd, by the rule."""

from datetime import date

import numpy as np
import pandas as pd
import pytest

from features.basistilskudd import (
    ListFacts,
    grunntilskudd,
    list_payments,
    payment_lines,
    rule_for,
    utjamning_money,
    utjamningstilskudd,
)

RATE = 841.80


def _lists(rows: list[tuple]) -> pd.DataFrame:
    """Rows of (list_id, kommune, persons, form_of_practice, list_cap, agreement_start)."""
    frame = pd.DataFrame(
        rows,
        columns=[
            "list_id",
            "practice_kommune",
            "persons",
            "form_of_practice",
            "list_cap",
            "agreement_start",
        ],
    )
    frame["agreement_start"] = pd.to_datetime(frame["agreement_start"])
    return frame


POPULATION = pd.Series({"1001": 4_999, "1002": 5_000, "1003": 3_000, "1004": 2_000})


def test_self_employed_gps_in_a_small_kommune_with_short_lists_share_the_same_top_up():
    lists = _lists(
        [
            ("A", "1001", 700, "self_employed", 1000, "2010-01-01"),
            ("B", "1001", 900, "self_employed", 1000, "2010-01-01"),
            ("C", "1001", 800, "salaried", 1000, "2010-01-01"),
        ]
    )
    amounts, reasons = utjamningstilskudd(lists, POPULATION, RATE)
    # Average list 800 over all three lists: (1,200 - 800) persons at the average rate each.
    assert amounts.tolist() == pytest.approx([RATE * 400, RATE * 400, 0.0])
    assert reasons == []


def test_a_salaried_gp_in_a_qualifying_kommune_gets_nothing():
    lists = _lists([("A", "1003", 600, "salaried", 1000, "2010-01-01")])
    amounts, _ = utjamningstilskudd(lists, POPULATION, RATE)
    assert amounts.tolist() == [0.0]


def test_a_kommune_of_exactly_5000_inhabitants_does_not_qualify():
    lists = _lists(
        [
            ("A", "1002", 600, "self_employed", 1000, "2010-01-01"),
            ("B", "1001", 600, "self_employed", 1000, "2010-01-01"),
        ]
    )
    amounts, _ = utjamningstilskudd(lists, POPULATION, RATE)
    assert amounts[0] == 0.0
    assert amounts[1] == pytest.approx(RATE * 600)


def test_an_average_list_of_exactly_1200_does_not_qualify():
    lists = _lists(
        [
            ("A", "1003", 1100, "self_employed", 1500, "2010-01-01"),
            ("B", "1003", 1300, "self_employed", 1500, "2010-01-01"),
            ("C", "1004", 1199, "self_employed", 1500, "2010-01-01"),
        ]
    )
    amounts, _ = utjamningstilskudd(lists, POPULATION, RATE)
    assert amounts.tolist() == pytest.approx([0.0, 0.0, RATE * 1])


def test_utjamning_without_form_of_practice_is_not_computable_where_it_could_apply():
    lists = _lists(
        [
            ("A", "1003", 600, "self_employed", 1000, "2010-01-01"),
            ("B", "1002", 600, "self_employed", 1000, "2010-01-01"),
        ]
    ).drop(columns=["form_of_practice"])
    amounts, reasons = utjamningstilskudd(lists, POPULATION, RATE)
    assert np.isnan(amounts[0])  # small kommune, short lists: it depends on the missing fact
    assert amounts[1] == 0.0  # 5,000 inhabitants: no form of practice can make it qualify
    assert reasons == ["utjamningstilskudd: lists.form_of_practice is missing"]
    money, why = utjamning_money(lists, POPULATION, RATE)
    assert money is None and why == reasons


def test_utjamning_without_population_is_not_computable():
    lists = _lists([("A", "1003", 600, "self_employed", 1000, "2010-01-01")])
    amounts, reasons = utjamningstilskudd(lists, None, RATE)
    assert np.isnan(amounts[0])
    assert "utjamningstilskudd: kommuner.population is missing" in reasons


PAYDAY = date(2026, 11, 15)


def test_a_new_short_list_is_topped_up_to_500_persons_at_the_average_rate():
    lists = _lists([("A", "1001", 300, "self_employed", 800, "2025-06-01")])
    ptb = np.array([300 * 900.0])
    amounts, reasons = grunntilskudd(lists, ptb, PAYDAY, RATE)
    assert amounts.tolist() == pytest.approx([500 * RATE - 300 * 900.0])
    assert reasons == []


def test_a_grunntilskudd_list_in_its_25th_month_gets_nothing_and_in_its_24th_it_does():
    lists = _lists(
        [
            ("A", "1001", 300, "self_employed", 800, "2024-11-01"),  # Nov 2026 = month 25
            ("B", "1001", 300, "self_employed", 800, "2024-12-31"),  # Nov 2026 = month 24
        ]
    )
    amounts, _ = grunntilskudd(lists, np.array([250_000.0, 250_000.0]), PAYDAY, RATE)
    assert amounts[0] == 0.0
    assert amounts[1] == pytest.approx(500 * RATE - 250_000.0)


def test_an_empty_list_with_a_cap_of_600_qualifies_for_the_whole_floor():
    lists = _lists([("A", "1001", 0, "salaried", 600, "2026-09-01")])
    amounts, _ = grunntilskudd(lists, np.array([0.0]), PAYDAY, RATE)
    assert amounts.tolist() == pytest.approx([500 * RATE])


def test_grunntilskudd_is_never_negative_and_needs_a_cap_of_500_and_fewer_than_500_persons():
    lists = _lists(
        [
            ("rich", "1001", 450, "self_employed", 600, "2026-01-01"),  # PTB above the floor
            ("low cap", "1001", 300, "self_employed", 450, "2026-01-01"),
            ("500", "1001", 500, "self_employed", 600, "2026-01-01"),
            ("not yet", "1001", 100, "self_employed", 600, "2026-12-01"),
        ]
    )
    ptb = np.array([500 * RATE + 1.0, 100_000.0, 300_000.0, 50_000.0])
    amounts, _ = grunntilskudd(lists, ptb, PAYDAY, RATE)
    assert amounts.tolist() == [0.0, 0.0, 0.0, 0.0]


def test_grunntilskudd_without_cap_is_not_computable_only_for_short_lists():
    lists = _lists(
        [
            ("short", "1001", 300, "self_employed", 800, "2026-01-01"),
            ("long", "1001", 900, "self_employed", 1000, "2026-01-01"),
        ]
    ).drop(columns=["list_cap"])
    amounts, reasons = grunntilskudd(lists, np.array([1.0, 1.0]), PAYDAY, RATE)
    assert np.isnan(amounts[0]) and amounts[1] == 0.0
    assert reasons == ["grunntilskudd: lists.list_cap is missing"]


def test_the_scheme_date_chooses_the_rule_and_there_is_no_utjamning_from_july_2026():
    assert rule_for(date(2026, 6, 30)) == "model0_2023"
    assert rule_for(date(2026, 7, 1)) == "model_2026"
    lists = _lists([("A", "1003", 600, "self_employed", 1000, "2010-01-01")])
    before = list_payments(
        lists,
        np.array([600 * RATE]),
        population=POPULATION,
        scheme_date=date(2026, 6, 30),
        average_grant_nok=RATE,
    )
    after = list_payments(
        lists,
        np.array([600 * RATE]),
        population=POPULATION,
        scheme_date=date(2026, 7, 1),
        average_grant_nok=RATE,
    )
    assert before.loc[0, "utjamningstilskudd_nok"] == pytest.approx(RATE * 600)
    assert before.loc[0, "total_nok"] == pytest.approx(RATE * 1200)
    assert after.loc[0, "utjamningstilskudd_nok"] == 0.0
    assert after.loc[0, "total_nok"] == pytest.approx(RATE * 600)


def test_payments_name_what_is_not_computable_and_leave_the_total_empty():
    lists = _lists([("A", "1003", 300, "self_employed", 800, "2026-01-01")]).drop(
        columns=["form_of_practice", "list_cap", "agreement_start"]
    )
    paid = list_payments(
        lists,
        np.array([1000.0]),
        population=POPULATION,
        scheme_date=date(2026, 3, 1),
        average_grant_nok=RATE,
    )
    row = paid.iloc[0]
    assert row["ptb_grant_nok"] == 1000.0
    assert np.isnan(row["total_nok"])
    assert "lists.list_cap is missing" in row["not_computable"]
    assert "lists.form_of_practice is missing" in row["not_computable"]


def test_one_list_priced_on_its_own_gets_what_it_gets_in_its_data_set():
    """A posted list (``ListFacts.of_one``) is priced by the same rules as a data set's lists:
    with its kommune's average and population, each line equals the data set's."""
    lists = _lists(
        [
            ("A", "1001", 700, "self_employed", 1000, "2010-01-01"),
            ("B", "1001", 300, "self_employed", 1000, "2025-09-15"),
            ("C", "1003", 450, None, None, None),
            ("D", "1004", 200, "salaried", 600, "2026-01-01"),
            ("E", "9999", 100, "self_employed", 800, None),
        ]
    )
    ptb = np.array([600_000.0, 250_000.0, 380_000.0, 170_000.0, 90_000.0])
    average = lists.groupby("practice_kommune")["persons"].mean()
    payday = date(2026, 3, 1)
    together = list_payments(
        lists, ptb, population=POPULATION, scheme_date=payday, average_grant_nok=RATE
    )
    for i, row in enumerate(lists.itertuples()):
        start = row.agreement_start
        alone = payment_lines(
            ListFacts.of_one(
                persons=row.persons,
                list_cap=None if pd.isna(row.list_cap) else int(row.list_cap),
                agreement_start=None if pd.isna(start) else start.date(),
                form_of_practice=row.form_of_practice,
                kommune_average=average.get(row.practice_kommune),
                inhabitants=POPULATION.get(row.practice_kommune),
            ),
            ptb[i : i + 1],
            scheme_date=payday,
            average_grant_nok=RATE,
        )
        assert alone.pop("not_computable") == [together["not_computable"].iloc[i]]
        for column, values in alone.items():
            expected = together[column].iloc[i]
            assert values[0] == pytest.approx(expected, nan_ok=True), (row.list_id, column)
