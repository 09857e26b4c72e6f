"""The what-if engine on a synthetic country, shared by the engine, result and report tests."""

from __future__ import annotations

import pytest

from features.indicators import persons_with_practice
from features.synth import synthesise
from serving.whatif import WhatIfEngine
from training.fit import calibrate

PERSONS = 20_000


@pytest.fixture(scope="package")
def dataset():
    return synthesise(PERSONS, seed=2026)


@pytest.fixture(scope="package")
def persons(dataset):
    return persons_with_practice(dataset)


@pytest.fixture(scope="package")
def model_2026(dataset):
    return calibrate(dataset, name="model_2026").bundle


@pytest.fixture(scope="package")
def model0_2023(dataset):
    return calibrate(dataset, name="model0_2023").bundle


@pytest.fixture(scope="package")
def engine(dataset, persons, model_2026):
    return WhatIfEngine(persons, dataset.lists, dataset.kommuner, model_2026)


@pytest.fixture(scope="package")
def engine_2023(dataset, persons, model0_2023):
    return WhatIfEngine(persons, dataset.lists, dataset.kommuner, model0_2023)
