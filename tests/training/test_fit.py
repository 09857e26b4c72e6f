"""``training.fit``: one data set's shared inputs give each model what it gets on its own."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from training.fit import MODELS, TrainingInputs, calibrate


@pytest.mark.parametrize("name", MODELS)
def test_shared_inputs_give_the_same_model_as_deriving_them_alone(tiny_dataset, name):
    shared = TrainingInputs.from_dataset(tiny_dataset)
    alone = calibrate(tiny_dataset, name=name).bundle
    together = calibrate(tiny_dataset, name=name, inputs=shared).bundle
    pd.testing.assert_frame_equal(alone.weight_table, together.weight_table)
    assert (alone.rate_nok, alone.budget_nok) == (together.rate_nok, together.budget_nok)
    assert alone.trained_on == together.trained_on


def test_inputs_hold_every_listed_person_with_annual_cost_and_exposure(tiny_dataset):
    inputs = TrainingInputs.from_dataset(tiny_dataset)
    assert len(inputs.persons) == len(inputs.y) == len(inputs.exposure) == len(tiny_dataset.persons)
    np.testing.assert_allclose(inputs.exposure, inputs.persons["months_listed"] / 12)
    assert "practice_kommune" in inputs.persons


def test_the_period_rate_keeps_the_2026_strengthening_on_top_of_the_budget(tiny_dataset):
    """Priced for a period (``PersonScorer.for_period``), the 2026 rule still pays the old PTB
    budget plus U: the centrality strengthening is U, never taken out of the PTB rate."""
    from features.grants import PersonScorer, PersonTable
    from features.releases import Release
    from features.scheme import SchemeParameters

    # The tiny sample has no list in a class 5-6 kommune: move a few lists to such kommuner.
    kommuner = tiny_dataset.kommuner.set_index("kommune")["centrality"]
    rural = [kommuner[kommuner == c].index[0] for c in (5, 6)]
    lists = tiny_dataset.lists.copy()
    moved = pd.array([rural[i % 2] for i in range(4)], dtype=lists["practice_kommune"].dtype)
    lists["practice_kommune"] = pd.concat(
        [pd.Series(moved, index=lists.index[:4]), lists["practice_kommune"].iloc[4:]]
    )
    dataset = replace(tiny_dataset, lists=lists)
    money = 2_000_000.0
    bundle = calibrate(
        dataset, name="model_2026", scheme=SchemeParameters(utjamning_moved_nok=money)
    ).bundle
    assert all(nok > 0 for nok in bundle.scheme.centrality_strengthening_nok.values())
    table = PersonTable.from_dataset(dataset)
    release = Release.from_dataset(dataset, "this period")
    scorer = PersonScorer(bundle, release.reference).for_period(table.columns, release)
    budget = bundle.scheme.budget_for(len(dataset.persons))
    assert scorer.score(table.columns).grant_nok.sum() == pytest.approx(budget + money, abs=1.0)
    # The same data set is its own period: the period's rate is the model's.
    assert scorer.rate_nok == pytest.approx(bundle.rate_nok)
