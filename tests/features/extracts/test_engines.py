"""DuckDB and Spark run the same rules: identical tables, to the øre and to the row."""

from __future__ import annotations

import pandas as pd
import pytest

from features.errors import ExtractsError
from features.extracts.build import BuildOutputs, build_dataset
from features.extracts.synth import write_synthetic_extracts
from tests.features.extracts import scenario

pytestmark = pytest.mark.spark


def assert_identical(duck: BuildOutputs, spark: BuildOutputs) -> None:
    for table in ("persons", "lists", "kommuner", "grunnkretser"):
        pd.testing.assert_frame_equal(
            duck.dataset.table(table), spark.dataset.table(table), check_exact=True
        )
    pd.testing.assert_frame_equal(duck.reconciliation, spark.reconciliation, check_exact=True)
    assert duck.icpc2_chapters.equals(spark.icpc2_chapters, check_metadata=True)
    assert duck.lineage.fingerprint == spark.lineage.fingerprint


def test_scenario_builds_identically(spark_session, scenario_dir, scenario_build):
    spark = build_dataset(scenario_dir, scenario.YEAR, engine="spark")
    assert spark.lineage.engine == "spark"
    assert_identical(scenario_build, spark)


def test_synthetic_extracts_build_identically(spark_session, tmp_path):
    directory = tmp_path / "extracts"
    write_synthetic_extracts(directory, n_persons=3000, seed=5, year=2025)
    duck = build_dataset(directory, 2025)
    spark = build_dataset(directory, 2025, engine="spark")
    assert len(duck.dataset.persons) == 3000
    assert_identical(duck, spark)


def test_spark_refuses_bad_extracts_like_duckdb(spark_session, tmp_path):
    frames = scenario.tables()
    frames["claims"].loc[0, "claim_date"] = "2025-02-30"
    frames["listings"].loc[11, "valid_to"] = "2025-04-01"
    frames["residences"].loc[0, "grunnkrets"] = "99999999"
    directory = scenario.write(frames, tmp_path / "extracts", fmt="csv")
    refusals = []
    for engine in ("duckdb", "spark"):
        with pytest.raises(ExtractsError) as caught:
            build_dataset(directory, scenario.YEAR, engine=engine)
        refusals.append(caught.value.violations)
    assert refusals[0] == refusals[1]
    assert len(refusals[0]) == 3
