"""Every claim line and every NOK ends in a person's cost or in a counted exclusion."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest

from features.errors import BuildError
from features.extracts import reconcile
from features.extracts.build import write_build
from features.extracts.lineage import read_lineage
from tests.features.extracts import scenario


def _nok(build, reason: str) -> Decimal:
    rows = build.reconciliation.set_index("reason")
    return rows.loc[reason, "nok"]


def test_nok_in_equals_used_plus_excluded_to_the_ore(scenario_build):
    table = scenario_build.reconciliation.query("source == 'claims'")
    claims = scenario.tables()["claims"]
    total = sum(
        Decimal(f"{a:.2f}") + Decimal(f"{b:.2f}")
        for a, b in zip(claims["reimbursed_nok"], claims["copayment_nok"], strict=True)
    )
    into = table[table["outcome"] == "in"].iloc[0]
    assert into["nok"] == total == Decimal("8404.84")
    assert into["lines"] == len(claims)
    accounted = table[table["outcome"] != "in"]
    assert sum(accounted["nok"], Decimal(0)) == total
    assert accounted["lines"].sum() == len(claims)


def test_each_exclusion_has_its_reason_and_amount(scenario_build):
    assert _nok(scenario_build, "unknown person") == Decimal("100.00")
    assert _nok(scenario_build, "claim date outside T and T-1") == Decimal("1149.00")
    # P03 before birth-listing, P04 before settlement listing, P09 in her gap.
    assert _nok(scenario_build, "not on a list on the claim date") == Decimal("1183.33")
    assert _nok(
        scenario_build, "person not in the data set: died on or before the reference date"
    ) == Decimal("1080.00")
    assert _nok(scenario_build, "reimbursement in T-1 (only copayments are used)") == Decimal(
        "1000.00"
    )


def test_used_nok_equals_the_data_sets_cost_and_copayments(scenario_build):
    persons = scenario_build.dataset.persons
    used_cost = _nok(scenario_build, "cost in T")
    used_copayment = _nok(
        scenario_build, "copayment_prev_year: copayments in T-1, frikort-covered included"
    )
    assert float(used_cost) == pytest.approx(persons["cost"].sum(), abs=1e-6)
    assert float(used_copayment) == pytest.approx(persons["copayment_prev_year"].sum(), abs=1e-6)


def test_a_reconciliation_that_does_not_add_up_is_refused(scenario_build):
    table = scenario_build.reconciliation.query("outcome != 'in'")
    with pytest.raises(BuildError, match="reconciliation does not add up"):
        reconcile.check_claims_balance(table, 19, Decimal("8404.85"))


def test_the_written_build_holds_reconciliation_chapters_and_lineage(tmp_path, scenario_build):
    out = write_build(scenario_build, tmp_path / "dataset")
    written = reconcile.read_reconciliation(out / reconcile.RECONCILIATION_FILE)
    pd.testing.assert_frame_equal(written, scenario_build.reconciliation)
    lineage = read_lineage(out)
    assert lineage is not None and lineage.fingerprint == scenario_build.lineage.fingerprint
    assert set(lineage.files) == {f"{t}.parquet" for t in scenario.tables()}
    assert (out / "icpc2_chapters.parquet").is_file()
    assert not list(tmp_path.glob(".dataset.building-*"))


def test_the_fingerprint_changes_with_any_extract_byte(tmp_path, scenario_build):
    frames = scenario.tables()
    frames["claims"].loc[0, "copayment_nok"] = 180.01
    from features.extracts.build import build_dataset

    other = build_dataset(scenario.write(frames, tmp_path / "x"), scenario.YEAR)
    assert other.lineage.fingerprint != scenario_build.lineage.fingerprint
    assert other.lineage.files["claims.parquet"] != scenario_build.lineage.files["claims.parquet"]
    assert other.lineage.files["persons.parquet"] == scenario_build.lineage.files["persons.parquet"]
