"""What a what-if run found, in tables: they add up to the lists, the tolerance decides who is
unchanged, and the histogram's axis is not decided by an outlier."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.scheme import SchemeParameters
from serving.whatif import TOLERANCE_NOK, Scenario, build_result, change_histogram
from serving.whatif.result import outlier_mask
from tests.serving.whatif.conftest import PERSONS


def test_tables_add_up_to_the_lists(engine):
    result = engine.run(Scenario(dampening=0.4, centrality_scale=2.0), top_n=5)
    lists = result.lists
    for table in (result.kommuner, result.centrality):
        assert table["lists"].sum() == len(lists)
        assert table["persons"].sum() == PERSONS
        assert table["change_nok"].sum() == pytest.approx(lists["change_nok"].sum(), abs=0.1)
        assert (table["winners"] + table["losers"] + table["unchanged"] == table["lists"]).all()
    assert result.histogram["lists"].sum() + len(result.histogram_outliers) == len(lists)
    assert result.distribution["change_nok"].is_monotonic_increasing
    assert len(result.largest_gains) == min(5, result.winners)
    assert result.largest_gains["change_nok"].is_monotonic_decreasing
    assert (result.largest_losses["change_nok"] < -TOLERANCE_NOK).all()
    assert result.summary()["winners"] == result.winners


def test_the_tolerance_decides_who_counts_as_unchanged(engine):
    result = engine.run(Scenario(dampening=0.01), tolerance_nok=1e9)
    assert result.unchanged == engine.n_lists


def test_an_outlier_does_not_decide_the_histogram_axis_and_is_named():
    # The fault found on /policy: with a floor, ~230 lists lose about 1 %, a few gain, and one
    # kommune's list gains 408 %; one wide grey bar hid the 17 losers.
    rng = np.random.default_rng(5)
    change = np.concatenate([rng.normal(-1.0, 0.05, 17), rng.normal(0.4, 0.2, 213), [408.0]])
    outliers = outlier_mask(change)
    assert outliers.tolist() == [False] * 230 + [True]
    bins = change_histogram(change)
    assert bins["lists"].sum() == 230
    assert bins["bin_high_pct"].max() < 5  # the axis is read in per cent, not hundreds
    centre = bins[bins["bin_low_pct"] == -bins["bin_high_pct"]].iloc[0]
    assert centre["bin_high_pct"] < 0.5  # the losers at -1 % have bars of their own
    assert bins[bins["bin_high_pct"] <= -0.5]["lists"].sum() == 17
    lists = pd.DataFrame(
        {
            "list_id": [f"L{i:03d}" for i in range(231)],
            "practice_kommune": "1001",
            "kommune_name": "Small",
            "centrality": 6,
            "persons": 100,
        }
    )
    result = build_result(
        lists=lists,
        baseline_nok=np.full(231, 100_000.0),
        scenario_nok=100_000.0 * (1 + change / 100),
        top_n=5,
        tolerance_nok=0.5,
        scenario=Scenario(),
        baseline_model="1",
        scenario_model="1",
        phase_in_from=None,
        baseline_rate_nok=1.0,
        scenario_rate_nok=1.0,
        scenario_scheme=SchemeParameters(),
        target_total_nok=None,
    )
    assert result.histogram_outliers["list_id"].tolist() == ["L230"]
    assert result.histogram["lists"].sum() + len(result.histogram_outliers) == 231


def test_identical_changes_are_not_outliers():
    change = np.array([-0.8] * 50 + [-0.8000001] * 3)
    assert not outlier_mask(change).any()
