"""``training.fit``: one data set's shared inputs give each model what it gets on its own."""

from __future__ import annotations

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
