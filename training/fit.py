"""From a validated data set to a calibrated model bundle, without any tracking.

This is the pure core of ``ptb train``: derive the features with the shared definition, fit the
tariff, express it as relative weights and price it budget-neutrally over the same population.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features import (
    Dataset,
    IndicatorConfig,
    ModelBundle,
    ReferenceTables,
    Release,
    SchemeParameters,
    Tariff,
    calibrate_rate,
    derive_features,
    fingerprint,
    mean_expected_cost,
    persons_with_practice,
    preset,
)
from training.calibrate import CapitationRegressor, annualised_cost

MODELS = ("model_2026", "model0_2023")


@dataclass(frozen=True)
class Calibration:
    """A fitted tariff with what validation needs: features, outcome and exposure per person."""

    bundle: ModelBundle
    regressor: CapitationRegressor
    persons: pd.DataFrame
    features: pd.DataFrame
    y: np.ndarray
    exposure: np.ndarray


def model_spec(
    name: str, scheme: SchemeParameters | None = None
) -> tuple[IndicatorConfig, SchemeParameters]:
    """The indicators and scheme of a named model; the preset's dampening unless one is given."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    indicators, dampening = preset(name)
    return indicators, scheme or SchemeParameters(dampening=dampening)


@dataclass(frozen=True)
class TrainingInputs:
    """What every model of one training derives alike from the data set (about 1 s for the
    country): persons with their practice kommune, reference tables, annual cost, exposure."""

    persons: pd.DataFrame
    reference: ReferenceTables
    y: np.ndarray
    exposure: np.ndarray

    @classmethod
    def from_dataset(cls, dataset: Dataset, release: Release | None = None) -> TrainingInputs:
        """``release``: the training data set's own tables, named (default: unnamed)."""
        persons = persons_with_practice(dataset)
        y, exposure = annualised_cost(
            persons["cost"].to_numpy(), persons["months_listed"].to_numpy()
        )
        reference = (release or Release.from_dataset(dataset, "training data set")).reference
        return cls(persons, reference, y, exposure)


def calibrate(
    dataset: Dataset,
    *,
    name: str = "model_2026",
    indicators: IndicatorConfig | None = None,
    scheme: SchemeParameters | None = None,
    data_fingerprint: str | None = None,
    inputs: TrainingInputs | None = None,
) -> Calibration:
    """Fit the tariff on a validated training data set and price it over the same persons.

    ``inputs``, derived once from ``dataset``, lets several models of one training share them.
    """
    preset_indicators, scheme = model_spec(name, scheme)
    indicators = indicators or preset_indicators
    inputs = inputs or TrainingInputs.from_dataset(dataset)
    persons, reference, y, exposure = inputs.persons, inputs.reference, inputs.y, inputs.exposure
    features = derive_features(persons, reference, indicators)
    regressor = CapitationRegressor(indicators=indicators).fit(features, y, exposure)
    table = regressor.weight_table_.copy()
    mean_cost = mean_expected_cost(features, table)
    table["relative_weight"] = table["effect_nok"] / mean_cost
    tariff = Tariff.from_table(table, mean_cost)
    rate, budget = calibrate_rate(features, tariff, scheme)
    bundle = ModelBundle(
        name=name,
        indicators=indicators,
        scheme=scheme,
        weight_table=table,
        mean_cost_nok=mean_cost,
        reference=reference,
        rate_nok=rate,
        budget_nok=budget,
        reference_persons=len(persons),
        trained_on=data_fingerprint if data_fingerprint is not None else fingerprint(dataset),
    )
    return Calibration(bundle, regressor, persons, features, y, exposure)
