"""From a validated data set to a calibrated model bundle, without any tracking.

This is the pure core of ``ptb train``: derive the features with the shared definition, fit the
tariff, express it as relative weights and price it budget-neutrally over the same population.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from features import (
    PRESETS,
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
    list_facts,
    mean_expected_cost,
    persons_with_practice,
    preset,
    preset_spec,
    reform_steps,
    utjamning_money,
)
from training.calibrate import CapitationRegressor, annualised_cost

MODELS = PRESETS


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
    share = preset_spec(name).get("scheme", {}).get("utjamning_class6_share", 0.5)
    return indicators, scheme or SchemeParameters(dampening=dampening, utjamning_class6_share=share)


def moves_utjamning_of(name: str) -> bool:
    """Whether a model's rule moves the utjamningstilskudd money into centrality (2026)."""
    return bool(preset_spec(name).get("scheme", {}).get("utjamning_to_centrality", False))


def strengthened(
    scheme: SchemeParameters, dataset: Dataset, features: pd.DataFrame, *, moves: bool
) -> tuple[SchemeParameters, list[str]]:
    """The scheme with U and its NOK per person of class 5 and 6 lists, where the rule moves it.

    U is what the 2023 rule pays in utjamningstilskudd on the training data, unless the scheme
    gives it; if a fact it needs is missing it is not computable, and the reasons are returned.
    """
    reasons: list[str] = []
    if moves and scheme.utjamning_moved_nok is None:
        persons = dataset.persons["list_id"].astype("string").value_counts()
        kommuner = dataset.kommuner.set_index("kommune")
        population = kommuner["population"] if "population" in kommuner.columns else None
        money, reasons = utjamning_money(
            list_facts(dataset.lists, persons), population, scheme.average_grant_nok
        )
        if money is not None:
            scheme = scheme.model_copy(update={"utjamning_moved_nok": money})
    if scheme.utjamning_moved_nok is None:
        return scheme, [f"centrality strengthening not computable: {r}" for r in reasons]
    level = features["centrality"].to_numpy()
    class5, class6 = int((level == 4).sum()), int((level == 5).sum())
    if class5 + class6 == 0:
        reason = (
            "centrality strengthening not computable: no person is listed in a class 5-6 kommune"
        )
        return scheme.model_copy(update={"utjamning_moved_nok": None}), [reason]
    return scheme.strengthening_for(class5, class6), []


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
    moves_utjamning: bool | None = None,
) -> Calibration:
    """Fit the tariff on a validated training data set and price it over the same persons.

    ``inputs``, derived once from ``dataset``, lets several models of one training share them.
    ``moves_utjamning`` (default: the preset's rule) spends U on the centrality supplement.
    """
    if moves_utjamning is None:
        moves_utjamning = moves_utjamning_of(name)
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
    scheme, not_computable = strengthened(scheme, dataset, features, moves=moves_utjamning)
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
        metadata={"not_computable": not_computable} if not_computable else {},
    )
    return Calibration(bundle, regressor, persons, features, y, exposure)


def calibrate_reform(
    dataset: Dataset, *, inputs: TrainingInputs | None = None, data_fingerprint: str | None = None
) -> tuple[ModelBundle, ...]:
    """Every step of the reform (``features.reform``) calibrated as a configuration of its own.

    The bundles are named ``reform/<step>``; the last one is the 2026 rule's configuration.
    """
    inputs = inputs or TrainingInputs.from_dataset(dataset)
    bundles = []
    for step in reform_steps():
        calibration = calibrate(
            dataset,
            name="model0_2023",
            indicators=step.indicators,
            scheme=step.scheme(),
            data_fingerprint=data_fingerprint,
            inputs=inputs,
            moves_utjamning=step.moves_utjamning,
        )
        bundles.append(replace(calibration.bundle, name=f"reform/{step.name}"))
    return tuple(bundles)
