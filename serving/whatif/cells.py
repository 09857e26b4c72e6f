"""What-if pricing by cell: a snapshot collapsed to cells once per model, and a scenario's
weight and fixed NOK per cell (see ``serving.whatif`` for the method and the money).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse

from features import (
    IndicatorConfig,
    ModelBundle,
    SchemeParameters,
    Tariff,
    derive_features,
    education_level,
    factors,
    refugee_supplements,
    score_features,
    strengthening_supplements,
)
from serving.whatif.scenario import Scenario


@dataclass(frozen=True)
class SnapshotCells:
    """One model's features for a snapshot, collapsed to cells.

    ``cells`` enumerates every combination of factor levels (education last, so cell
    ``2 * base + education``); ``person_base`` is each person's combination of the other
    factors, ``list_cells`` counts persons per list and cell at the model's own threshold.
    """

    indicators: IndicatorConfig
    cells: pd.DataFrame
    person_base: np.ndarray
    education_share: np.ndarray
    person_cell: np.ndarray
    list_cells: sparse.csr_matrix
    list_of_person: np.ndarray
    _by_threshold: dict[float, tuple[np.ndarray, sparse.csr_matrix]] = field(
        default_factory=dict, repr=False
    )

    @classmethod
    def build(
        cls, persons: pd.DataFrame, list_of_person: np.ndarray, n_lists: int, bundle: ModelBundle
    ) -> SnapshotCells:
        features = derive_features(persons, bundle.reference, bundle.indicators)
        levels = {f.name: len(f.levels) for f in factors(bundle.indicators)}
        levels.pop("education")
        codes = {name: features[name].to_numpy(dtype="int64") for name in levels}
        # The refugee flag is kept even for a model without a refugee factor, so a scenario can
        # add a fixed refugee rate to it.
        if "refugee" not in codes:
            levels["refugee"] = 2
            codes["refugee"] = persons["refugee_first_year"].to_numpy(dtype=bool).astype("int64")
        base = np.zeros(len(persons), dtype="int64")
        for name, n_levels in levels.items():
            base = base * n_levels + codes[name]
        n_base = int(np.prod(list(levels.values())))
        remainder = np.arange(n_base, dtype="int64")
        columns: dict[str, np.ndarray] = {}
        for name, n_levels in reversed(levels.items()):
            columns[name] = np.repeat(remainder % n_levels, 2).astype("int16")
            remainder //= n_levels
        columns["education"] = np.tile(np.array([0, 1], dtype="int16"), n_base)
        cells = pd.DataFrame(columns)
        person_cell = (2 * base + features["education"].to_numpy(dtype="int64")).astype("int32")
        return cls(
            indicators=bundle.indicators,
            cells=cells,
            person_base=base.astype("int32"),
            education_share=features["education_share"].to_numpy(dtype="float64"),
            person_cell=person_cell,
            list_cells=_list_cells(list_of_person, person_cell, n_lists, len(cells)),
            list_of_person=list_of_person,
        )

    def cell_of_person(self, indicators: IndicatorConfig) -> np.ndarray:
        """Each person's cell under ``indicators`` (only the education threshold may differ)."""
        return self._at_threshold(indicators.education_threshold)[0]

    def list_cells_at(self, indicators: IndicatorConfig) -> sparse.csr_matrix:
        """Persons per list and cell under ``indicators``: a list total is one product with it."""
        return self._at_threshold(indicators.education_threshold)[1]

    def _at_threshold(self, threshold: float) -> tuple[np.ndarray, sparse.csr_matrix]:
        if threshold == self.indicators.education_threshold:
            return self.person_cell, self.list_cells
        found = self._by_threshold.get(threshold)
        if found is None:
            education = education_level(self.education_share, threshold)
            cell = (2 * self.person_base + education).astype("int32")
            n_lists, n_cells = self.list_cells.shape
            found = (cell, _list_cells(self.list_of_person, cell, n_lists, n_cells))
            if len(self._by_threshold) >= 2:  # a policy team tries a threshold, then the next
                self._by_threshold.pop(next(iter(self._by_threshold)), None)
            self._by_threshold[threshold] = found
        return found


def _list_cells(
    list_of_person: np.ndarray, person_cell: np.ndarray, n_lists: int, n_cells: int
) -> sparse.csr_matrix:
    counts = sparse.csr_matrix(
        (np.ones(len(person_cell)), (list_of_person, person_cell)), shape=(n_lists, n_cells)
    )
    counts.sum_duplicates()
    return counts


@dataclass(frozen=True)
class PricedModel:
    """A model as a scenario prices it: weight and fixed NOK per cell, at no rate yet."""

    name: str
    indicators: IndicatorConfig
    scheme: SchemeParameters
    tariff: Tariff
    own_rate_nok: float
    cell_weight: np.ndarray
    cell_supplement_nok: np.ndarray
    snapshot: SnapshotCells

    def per_list(self, values: np.ndarray) -> np.ndarray:
        """Per-cell values summed over each list's persons."""
        return self.snapshot.list_cells_at(self.indicators) @ values

    def per_person(self, values: np.ndarray) -> np.ndarray:
        return values[self.snapshot.cell_of_person(self.indicators)]


def modified_tariff(
    bundle: ModelBundle, scenario: Scenario, cells: pd.DataFrame
) -> tuple[Tariff, np.ndarray]:
    """The scenario's tariff, and the fixed NOK per cell that replace estimated effects."""
    table = bundle.weight_table.copy()
    fixed = np.zeros(len(cells))
    centrality = table["factor"] == "centrality"
    education = (table["factor"] == "education") & (table["level_code"] == 1)
    if scenario.centrality_scale is not None:
        table.loc[centrality, "effect_nok"] *= scenario.centrality_scale
    if scenario.centrality_supplement_nok is not None:
        for centrality_class, nok in scenario.centrality_supplement_nok.items():
            table.loc[centrality & (table["level_code"] == centrality_class - 1), "effect_nok"] = 0
            fixed += np.where(cells["centrality"].to_numpy() == centrality_class - 1, nok, 0.0)
    if scenario.education_effect_scale is not None:
        table.loc[education, "effect_nok"] *= scenario.education_effect_scale
    if scenario.education_effect_nok is not None:
        table.loc[education, "effect_nok"] = 0.0
        fixed += np.where(cells["education"].to_numpy() == 1, scenario.education_effect_nok, 0.0)
    table["relative_weight"] = table["effect_nok"] / bundle.mean_cost_nok
    return Tariff.from_table(table, bundle.mean_cost_nok), fixed


def price(bundle: ModelBundle, snapshot: SnapshotCells, scenario: Scenario) -> PricedModel:
    """Price the cells with ``bundle`` as ``scenario`` modifies it, through ``score_features``."""
    updates = {
        key: value
        for key, value in (
            ("dampening", scenario.dampening),
            ("refugee_rate_nok", scenario.refugee_rate_nok),
        )
        if value is not None
    }
    scheme = SchemeParameters(**{**bundle.scheme.model_dump(), **updates})
    indicators = bundle.indicators
    if scenario.education_threshold is not None:
        indicators = IndicatorConfig(
            **{**indicators.model_dump(), "education_threshold": scenario.education_threshold}
        )
    tariff, fixed = modified_tariff(bundle, scenario, snapshot.cells)
    scores = score_features(snapshot.cells, tariff, scheme, bundle.rate_nok)
    # The 2026 rule's strengthened centrality (U as NOK per person of a class 5-6 list) is paid
    # outside the weights like the refugee rate, and stays paid under every scenario.
    supplements = (
        refugee_supplements(snapshot.cells, scheme)
        + strengthening_supplements(snapshot.cells, scheme)
        + fixed
    )
    return PricedModel(
        bundle.name,
        indicators,
        scheme,
        tariff,
        bundle.rate_nok,
        scores.weight,
        supplements,
        snapshot,
    )
