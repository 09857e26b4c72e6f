import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from features.contract import (
    fingerprint,
    load_dataset,
    read_dataset,
    validate_dataset,
    write_dataset,
)
from features.errors import ContractError
from tests.conftest import BREAKAGES


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_valid_dataset_round_trips_with_codes_as_strings(tiny_dataset, tmp_path, fmt):
    write_dataset(tiny_dataset, tmp_path, fmt=fmt)
    loaded = load_dataset(tmp_path, training=True)
    assert loaded.row_counts == tiny_dataset.row_counts
    assert loaded.kommuner["kommune"].str.fullmatch(r"\d{4}").all()
    assert "0301" in set(loaded.kommuner["kommune"])
    assert fingerprint(loaded) == fingerprint(
        tiny_dataset.__class__(
            **{t: loaded.table(t) for t in ("persons", "lists", "kommuner", "grunnkretser")}
        )
    )


@pytest.mark.parametrize("kind", sorted(BREAKAGES))
def test_broken_dataset_is_refused_with_table_column_rule_and_rows(broken_dataset, kind):
    directory, message = broken_dataset(kind)
    with pytest.raises(ContractError, match=message):
        load_dataset(directory, training=True)


def test_every_violation_is_reported_in_one_pass(tiny_dataset, tmp_path):
    persons = tiny_dataset.persons.copy()
    persons.loc[0, "age"] = 200
    persons.loc[1, "copayment_prev_year"] = -1.0
    kommuner = tiny_dataset.kommuner.copy()
    kommuner.loc[0, "centrality"] = 0
    broken = tiny_dataset.__class__(
        persons, tiny_dataset.lists, kommuner, tiny_dataset.grunnkretser
    )
    write_dataset(broken, tmp_path)
    with pytest.raises(ContractError) as refused:
        load_dataset(tmp_path, training=True)
    where = {(v.table, v.column) for v in refused.value.violations}
    assert where == {
        ("persons", "age"),
        ("persons", "copayment_prev_year"),
        ("kommuner", "centrality"),
    }


def test_missing_table_is_named(tiny_dataset, tmp_path):
    write_dataset(tiny_dataset, tmp_path)
    (tmp_path / "grunnkretser.parquet").unlink()
    with pytest.raises(ContractError, match="grunnkretser: no grunnkretser.parquet or .csv"):
        read_dataset(tmp_path)


def test_snapshot_needs_no_outcome_columns_and_months_default_to_twelve(tiny_dataset, tmp_path):
    persons = tiny_dataset.persons.drop(columns=["cost", "months_listed"])
    write_dataset(
        tiny_dataset.__class__(
            persons, *(tiny_dataset.table(t) for t in ("lists", "kommuner", "grunnkretser"))
        ),
        tmp_path,
    )
    assert len(load_dataset(tmp_path, training=False).persons) == len(persons)
    with pytest.raises(ContractError, match="persons.cost: required column is missing"):
        load_dataset(tmp_path, training=True)
    with_cost = persons.assign(cost=1.0)
    write_dataset(
        tiny_dataset.__class__(
            with_cost, *(tiny_dataset.table(t) for t in ("lists", "kommuner", "grunnkretser"))
        ),
        tmp_path,
    )
    assert (load_dataset(tmp_path, training=True).persons["months_listed"] == 12).all()


def test_csv_codes_keep_leading_zeros(tiny_dataset, tmp_path):
    write_dataset(tiny_dataset, tmp_path, fmt="csv")
    raw = pd.read_csv(tmp_path / "kommuner.csv", dtype=str)
    assert "0301" in set(raw["kommune"])
    assert "0301" in set(load_dataset(tmp_path).kommuner["kommune"])


def test_cli_validate_exits_nonzero_and_names_the_rule(broken_dataset):
    directory, _ = broken_dataset("grunnkrets_unknown")
    result = subprocess.run(
        [sys.executable, "-m", "ptb", "validate", "--data", str(directory)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "persons.grunnkrets" in result.stderr
    assert re.search(r"not in\s+grunnkretser", result.stderr)


def test_cli_validate_accepts_a_valid_data_set(tiny_dataset, tmp_path: Path):
    write_dataset(tiny_dataset, tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "ptb", "validate", "--data", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "valid" in result.stdout


def test_fingerprint_follows_content_not_format_or_column_order(tiny_dataset, tmp_path):
    write_dataset(tiny_dataset, tmp_path / "csv", fmt="csv")
    from_csv = load_dataset(tmp_path / "csv", training=True)
    assert fingerprint(from_csv) == fingerprint(tiny_dataset)
    reordered = replace(tiny_dataset, lists=tiny_dataset.lists[tiny_dataset.lists.columns[::-1]])
    assert fingerprint(reordered) == fingerprint(tiny_dataset)
    persons = tiny_dataset.persons.copy()
    persons.loc[100, "cost"] += 1.0
    assert fingerprint(replace(tiny_dataset, persons=persons)) != fingerprint(tiny_dataset)


@pytest.mark.parametrize(
    ("table", "column", "value", "rule"),
    [
        ("lists", "list_id", "L5\nFAKE,0301,1,999999999.00,83333333.33,1.0,1", "control character"),
        ("persons", "person_id", "P1\r", "control character"),
        ("persons", "list_id", "L\x001", "control character"),
        ("lists", "practice_kommune", "0301\n", "control character"),
        ("persons", "grunnkrets", "03010101\u2028", "control character"),
    ],
)
def test_ids_and_codes_with_control_characters_are_refused(
    tiny_dataset, tmp_path, table, column, value, rule
):
    """A line break in an id could forge a row of the settlement export: refused at the door."""
    frame = tiny_dataset.table(table).copy()
    frame[column] = frame[column].astype(object)
    frame.loc[1, column] = value
    write_dataset(replace(tiny_dataset, **{table: frame}), tmp_path)
    with pytest.raises(ContractError) as refused:
        load_dataset(tmp_path, training=True)
    found = [v for v in refused.value.violations if (v.table, v.column) == (table, column)]
    assert any(rule in v.rule and v.example_rows == (2,) for v in found), found


@pytest.mark.parametrize(
    "code",
    ["0301\n", "\u0660\u0663\u0660\u0661", "０３０１"],
    ids=["trailing line break", "Arabic-Indic digits", "full-width digits"],
)
def test_a_code_of_anything_but_its_ascii_digits_is_not_a_code(tiny_dataset, tmp_path, code):
    kommuner = tiny_dataset.kommuner.copy()
    kommuner.loc[0, "kommune"] = code
    write_dataset(replace(tiny_dataset, kommuner=kommuner), tmp_path)
    with pytest.raises(ContractError, match=r"kommuner\.kommune: 1 row not a 4-digit code"):
        load_dataset(tmp_path, training=True)


def test_a_data_set_without_population_or_bydel_still_validates(tiny_dataset, tmp_path):
    older = replace(
        tiny_dataset,
        kommuner=tiny_dataset.kommuner.drop(columns=["population"]),
        grunnkretser=tiny_dataset.grunnkretser.drop(columns=["bydel"]),
    )
    write_dataset(older, tmp_path)
    loaded = load_dataset(tmp_path, training=True)
    assert "population" not in loaded.kommuner and "bydel" not in loaded.grunnkretser


def test_population_and_bydel_are_read_and_a_suppressed_share_may_be_empty(tiny_dataset, tmp_path):
    grunnkretser = tiny_dataset.grunnkretser.copy()
    grunnkretser.loc[0, "primary_only_share"] = float("nan")
    write_dataset(replace(tiny_dataset, grunnkretser=grunnkretser), tmp_path, fmt="csv")
    loaded = load_dataset(tmp_path, training=True)
    assert loaded.kommuner["population"].dtype == "int64"
    assert loaded.grunnkretser["primary_only_share"].isna().sum() == 1
    oslo = loaded.grunnkretser[loaded.grunnkretser["grunnkrets"].str.startswith("0301")]
    assert oslo["bydel"].str.startswith("0301").all()


def test_a_bydel_outside_its_grunnkrets_kommune_is_refused(tiny_dataset, tmp_path):
    grunnkretser = tiny_dataset.grunnkretser.copy()
    row = grunnkretser.index[~grunnkretser["grunnkrets"].str.startswith("0301")][0]
    grunnkretser.loc[row, "bydel"] = "030101"
    kommuner = tiny_dataset.kommuner.assign(population=-1)
    write_dataset(replace(tiny_dataset, grunnkretser=grunnkretser, kommuner=kommuner), tmp_path)
    with pytest.raises(ContractError) as refused:
        load_dataset(tmp_path)
    message = str(refused.value)
    assert (
        "grunnkretser.bydel: 1 row whose first 4 digits are not the grunnkrets's kommune" in message
    )
    assert "kommuner.population" in message and "below 0" in message


@pytest.mark.parametrize("value", [0.0, None])
def test_a_training_set_with_no_cost_at_all_is_refused_naming_every_row(tiny_dataset, value):
    persons = tiny_dataset.persons.assign(cost=value)
    every = f"persons.cost: {len(persons)} rows 0 or missing, which is every row"
    with pytest.raises(ContractError, match=every) as refused:
        validate_dataset(replace(tiny_dataset, persons=persons), training=True)
    (no_cost,) = [v for v in refused.value.violations if "every row" in v.rule]
    # ``ptb validate`` shows the count and the example rows: all of them, and no row list.
    assert (no_cost.n_rows, no_cost.example_rows) == (len(persons), ())
    validate_dataset(replace(tiny_dataset, persons=persons))  # a snapshot needs no cost


def test_missing_and_negative_costs_are_reported_together(tiny_dataset):
    persons = tiny_dataset.persons.copy()
    persons.loc[[3, 5], "cost"] = None
    persons.loc[[8], "cost"] = -10.0
    with pytest.raises(ContractError) as refused:
        validate_dataset(replace(tiny_dataset, persons=persons), training=True)
    found = {(v.column, v.rule, v.example_rows) for v in refused.value.violations}
    assert found == {("cost", "is empty", (4, 6)), ("cost", "below 0", (9,))}
