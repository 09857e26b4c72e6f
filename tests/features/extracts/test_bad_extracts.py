"""Each kind of bad extract is refused whole, every violation named with counts and examples."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pandas as pd
import pytest

from features.errors import ExtractsError
from features.extracts.build import build_dataset
from tests.features.extracts import scenario

Frames = dict[str, pd.DataFrame]


def _edit(table: str, change: Callable[[pd.DataFrame], pd.DataFrame]) -> Callable[[Frames], None]:
    def apply(frames: Frames) -> None:
        frames[table] = change(frames[table].copy())

    return apply


def _set(table: str, row: int, column: str, value) -> Callable[[Frames], None]:
    def change(frame: pd.DataFrame) -> pd.DataFrame:
        frame[column] = frame[column].astype(object)
        frame.loc[row, column] = value
        return frame

    return _edit(table, change)


def _append(table: str, **values) -> Callable[[Frames], None]:
    return _edit(table, lambda f: pd.concat([f, pd.DataFrame([values])], ignore_index=True))


# kind -> (how to break the extracts, format, what the refusal must say)
BAD_EXTRACTS = {
    "overlapping_listing_periods": (
        _append(
            "listings",
            person_id="P01",
            list_id="L2",
            valid_from=dt.date(2020, 1, 1),
            valid_to=dt.date(2021, 1, 1),
        ),
        "parquet",
        r"listings\.valid_from: 1 row overlapping an earlier period of the same person_id "
        r"\(e\.g\. person_id=P01, valid_from=2020-01-01\)",
    ),
    "period_ends_before_it_starts": (
        _set("listings", 11, "valid_to", dt.date(2025, 4, 1)),
        "parquet",
        r"listings\.valid_to: 1 row before valid_from \(ends before it starts\) "
        r"\(e\.g\. person_id=P09, valid_from=2025-05-02, valid_to=2025-04-01\)",
    ),
    "overlapping_residences": (
        _set("residences", 2, "valid_from", "2025-03-01"),
        "csv",
        r"residences\.valid_from: 1 row overlapping an earlier period of the same person_id",
    ),
    "negative_amount": (
        _set("claims", 5, "reimbursed_nok", -150.0),
        "parquet",
        r"claims\.reimbursed_nok: 1 row below 0 "
        r"\(e\.g\. person_id=P02, claim_date=2025-01-15, fee_code=2cd, reimbursed_nok=-150",
    ),
    "unparseable_dates": (
        lambda f: (
            _set("claims", 0, "claim_date", "2025-13-01")(f),
            _set("claims", 1, "claim_date", "yesterday")(f),
        ),
        "csv",
        r"claims\.claim_date: 2 rows not a date \(YYYY-MM-DD\) "
        r"\(e\.g\. person_id=P01, claim_date=2025-13-01, fee_code=2ad; "
        r"person_id=P01, claim_date=yesterday, fee_code=2ad\)",
    ),
    "amount_not_a_number": (
        _set("claims", 2, "copayment_nok", "160,50"),
        "csv",
        r"claims\.copayment_nok: 1 row not a number",
    ),
    "unknown_grunnkrets": (
        _set("residences", 0, "grunnkrets", "99999999"),
        "parquet",
        r"residences\.grunnkrets: 1 row not in grunnkretser \(e\.g\. person_id=P01, "
        r"valid_from=1990-01-01, grunnkrets=99999999\)",
    ),
    "unknown_list": (
        _set("claims", 0, "list_id", "L9"),
        "parquet",
        r"claims\.list_id: 1 row not in lists",
    ),
    "unknown_kommune": (
        _set("lists", 1, "practice_kommune", "9999"),
        "parquet",
        r"lists\.practice_kommune: 1 row not in kommuner",
    ),
    "unknown_icpc2_code": (
        _set("claims", 0, "icpc2", "Q12"),
        "parquet",
        r"claims\.icpc2: 1 row not an ICPC-2 code \(chapter letter and two digits\)",
    ),
    "unknown_sex": (
        _set("persons", 3, "sex", "X"),
        "parquet",
        r'persons\.sex: 1 row not "F" or "M" \(e\.g\. person_id=P04, sex=X\)',
    ),
    "unknown_practice_form": (
        _set("lists", 0, "practice_form", "private"),
        "parquet",
        r'lists\.practice_form: 1 row not "self_employed" or "salaried"',
    ),
    "listing_of_unknown_person": (
        _set("listings", 0, "person_id", "Z01"),
        "parquet",
        r"listings\.person_id: 1 row not in persons",
    ),
    "duplicated_person": (
        _set("persons", 1, "person_id", "P01"),
        "parquet",
        r"persons\.person_id: 2 rows duplicated",
    ),
    "birth_month_out_of_range": (
        _set("persons", 0, "birth_month", 13),
        "parquet",
        r"persons\.birth_month: 1 row above 12",
    ),
    "birth_year_not_whole": (
        _set("persons", 0, "birth_year", "1950.5"),
        "csv",
        r"persons\.birth_year: 1 row not a whole number",
    ),
    "frikort_not_boolean": (
        _set("claims", 0, "frikort", "maybe"),
        "csv",
        r"claims\.frikort: 1 row not true or false",
    ),
    "required_column_missing": (
        _edit("claims", lambda f: f.drop(columns=["frikort"])),
        "parquet",
        r"claims\.frikort: required column is missing",
    ),
    "empty_required_cell": (
        _set("claims", 0, "person_id", None),
        "parquet",
        r"claims\.person_id: 1 row is empty",
    ),
    "bad_reference_release": (
        _set("kommuner", 0, "centrality", 7),
        "parquet",
        r"kommuner\.centrality: 1 row above 6",
    ),
}


@pytest.mark.parametrize("kind", sorted(BAD_EXTRACTS))
def test_bad_extract_is_refused_with_counts_and_examples(tmp_path, kind):
    breaks, fmt, message = BAD_EXTRACTS[kind]
    frames = scenario.tables()
    breaks(frames)
    directory = scenario.write(frames, tmp_path / "extracts", fmt=fmt)
    with pytest.raises(ExtractsError, match=message):
        build_dataset(directory, scenario.YEAR)


def test_every_violation_is_listed_in_one_report(tmp_path):
    frames = scenario.tables()
    for kind in ("negative_amount", "unknown_grunnkrets", "overlapping_listing_periods"):
        BAD_EXTRACTS[kind][0](frames)
    directory = scenario.write(frames, tmp_path / "extracts")
    with pytest.raises(ExtractsError) as caught:
        build_dataset(directory, scenario.YEAR)
    where = {(v.table, v.column) for v in caught.value.violations}
    assert where == {
        ("claims", "reimbursed_nok"),
        ("residences", "grunnkrets"),
        ("listings", "valid_from"),
    }
    assert str(caught.value).startswith("extracts break the extracts contract (3 rules)")


def test_a_missing_table_is_named(tmp_path, scenario_dir):
    frames = scenario.tables()
    del frames["listings"]
    directory = scenario.write(frames, tmp_path / "extracts")
    with pytest.raises(ExtractsError, match=r"listings: no listings\.parquet, listings\.csv"):
        build_dataset(directory, scenario.YEAR)
