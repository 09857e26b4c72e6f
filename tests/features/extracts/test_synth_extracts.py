"""Synthetic extracts build back into the person-level synthetic data set, and calibrate alike."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.contract import Dataset, validate_dataset
from features.extracts.build import build_dataset
from features.extracts.synth import write_extracts_of
from features.synth import synthesise
from training.fit import calibrate

PERSONS = 20_000
SEED = 11


@pytest.fixture(scope="module")
def truth() -> Dataset:
    return validate_dataset(synthesise(PERSONS, SEED), training=True)


@pytest.fixture(scope="module")
def built(truth, tmp_path_factory):
    directory = tmp_path_factory.mktemp("synth") / "extracts"
    counts = write_extracts_of(truth, directory, seed=SEED, year=2025)
    return counts, build_dataset(directory, 2025)


def test_extracts_carry_the_events_a_registry_has(built):
    counts, outputs = built
    table = outputs.reconciliation.set_index(["source", "reason"])
    for reason in (
        "person not in the data set: died on or before the reference date",
        "person not in the data set: not listed on the reference date",
        "unknown person",
        "not on a list on the claim date",
        "claim date outside T and T-1",
    ):
        assert table.loc[("claims", reason), "lines"] > 0, reason
    # About six claim lines a year per person: 30-40 million for the country.
    assert 5.5 < counts["claim lines 2025"] / PERSONS < 8.0


def test_build_gives_back_the_person_level_data_set(truth, built):
    _, outputs = built
    expected = truth.persons.sort_values("person_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(
        outputs.dataset.persons.reset_index(drop=True), expected, check_dtype=False
    )


def test_built_data_set_calibrates_like_the_person_level_data(truth, built):
    _, outputs = built
    ours = calibrate(outputs.dataset).bundle.weight_table
    theirs = calibrate(truth).bundle.weight_table
    np.testing.assert_allclose(ours["effect_nok"], theirs["effect_nok"], rtol=1e-9, atol=1e-6)
