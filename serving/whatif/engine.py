"""The what-if engine: a scenario priced against the current scheme, per list, kommune and class.

No HTTP here: the API route, the CLI and the benchmark call ``WhatIfEngine.run``.

Method. Every indicator is categorical, so a person's grant depends on the person only through
one *cell*, a combination of factor levels (age and sex, health status, education, centrality,
refugee). The engine derives each model's features for the snapshot once, maps every person to
a cell and counts persons per list and cell. A scenario then prices the few thousand cells with
the product's one pricing path (``features.bundle.score_features``) and sums them per list with
the count matrix, so a national run costs milliseconds and gives the very NOK that scoring each
person and adding them up per list gives. A new education threshold moves persons between cells;
only the education level is re-derived, and the cells are summed per person instead.

Money, per list ``l`` with weights ``W_l`` and fixed supplements ``S_l`` (refugee rate, fixed
centrality or education NOK) summed over its persons:

- baseline: ``B_l = R_0 * W_l + S_l`` with the baseline bundle as it is (its own rate ``R_0``);
- scenario: ``G_l = f_l * (R * W'_l + S'_l)``, where ``f_l`` applies the list-level rules
  (floor: ``N / persons`` under ``N`` persons; break point: ``(N + r * (persons - N)) / persons``
  above ``N``) and the rate ``R`` is budget neutral, ``R = (T - sum f_l S'_l) / sum f_l W'_l``,
  so the scenario spends ``T`` (the baseline total, or ``budget_nok``) exactly. With
  ``budget_neutral: false`` the rate stays the priced model's own rate and the total moves.
- phase-in: ``W'_l`` and ``S'_l`` blend the new model's and the old model's, ``share`` new.
"""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd

from features import (
    ModelBundle,
    SchemeParameters,
    UnknownCodeError,
    budget_neutral_rate,
    person_grant,
)
from serving.whatif.cells import PricedModel, SnapshotCells, price
from serving.whatif.result import WhatIfResult, build_result
from serving.whatif.scenario import Scenario, scenario_error

TOLERANCE_NOK = 0.5
"""A list whose annual grant moves by at most this many NOK (either way) counts as unchanged."""

TOP_N = 20
MAX_CACHED_MODELS = 4


def list_rule_factor(persons: np.ndarray, scenario: Scenario) -> np.ndarray:
    """What the list-level rules multiply a list's grant by, from its number of persons.

    Floor ``N``: a list under ``N`` persons is paid as if it had ``N`` (factor ``N / persons``).
    Break point ``N`` with rate share ``r``: persons above ``N`` are paid ``r`` of the per-capita
    grant, so the factor is ``(N + r * (persons - N)) / persons``.
    """
    count = np.asarray(persons, dtype="float64")
    factor = np.ones(len(count))
    if scenario.floor_persons is not None:
        floor = float(scenario.floor_persons)
        factor = np.where(count < floor, floor / np.maximum(count, 1.0), factor)
    if scenario.break_point_persons is not None and scenario.break_point_rate_share is not None:
        point, share = float(scenario.break_point_persons), scenario.break_point_rate_share
        above = count > point
        factor = np.where(above, (point + share * (count - point)) / np.maximum(count, 1.0), factor)
    return factor


class WhatIfEngine:
    """A snapshot and a baseline bundle, with features and baseline grants computed once.

    ``persons`` holds the person fields of ``features.indicators.PERSON_FIELDS`` with
    ``list_id``; ``practice_kommune`` is looked up in ``lists`` when it is missing. Only lists
    with persons on them take part.
    """

    def __init__(
        self,
        persons: pd.DataFrame,
        lists: pd.DataFrame,
        kommuner: pd.DataFrame,
        baseline: ModelBundle,
    ):
        position = pd.Index(lists["list_id"].astype("string")).get_indexer(
            pd.Index(persons["list_id"].astype("string"))
        )
        if (position < 0).any():
            unknown = pd.unique(persons["list_id"][position < 0].astype(str))[:5]
            raise UnknownCodeError("list_id", list(unknown), "list")
        # Lists without persons on the snapshot take no part; the others keep the table's order.
        on_snapshot = np.flatnonzero(np.bincount(position, minlength=len(lists)))
        renumber = np.full(len(lists), -1, dtype="int64")
        renumber[on_snapshot] = np.arange(len(on_snapshot))
        self.list_of_person = renumber[position].astype("int32")
        self.persons_per_list = np.bincount(self.list_of_person, minlength=len(on_snapshot))
        kommune_of_list = lists["practice_kommune"].astype("string").to_numpy()[on_snapshot]
        if "practice_kommune" not in persons:
            persons = persons.assign(practice_kommune=kommune_of_list[self.list_of_person])
        area = kommuner.assign(kommune=kommuner["kommune"].astype("string")).set_index("kommune")
        unknown_kommuner = pd.unique(kommune_of_list[~pd.Index(kommune_of_list).isin(area.index)])
        if len(unknown_kommuner):
            raise UnknownCodeError("practice_kommune", list(unknown_kommuner), "kommune")
        self.lists = pd.DataFrame(
            {
                "list_id": lists["list_id"].astype("string").to_numpy()[on_snapshot],
                "practice_kommune": kommune_of_list,
                "kommune_name": area["name"].reindex(kommune_of_list).to_numpy(),
                "centrality": area["centrality"].reindex(kommune_of_list).to_numpy(dtype="int64"),
            }
        )
        self.baseline = baseline
        self._persons = persons
        self._snapshots: dict[int, tuple[ModelBundle, SnapshotCells]] = {}
        self._lock = threading.Lock()
        base = price(baseline, self.snapshot_of(baseline), Scenario())
        self._baseline_model = base
        self.baseline_weight = base.per_list(base.cell_weight)
        self.baseline_supplement_nok = base.per_list(base.cell_supplement_nok)
        self.baseline_nok = person_grant(
            self.baseline_weight, baseline.rate_nok, self.baseline_supplement_nok
        )

    @property
    def n_lists(self) -> int:
        return len(self.lists)

    def snapshot_of(self, bundle: ModelBundle) -> SnapshotCells:
        """The bundle's cells for this snapshot, derived once and kept for a few bundles."""
        key = id(bundle)  # the entry holds the bundle, so its id is not reused meanwhile
        with self._lock:
            if key not in self._snapshots:
                if len(self._snapshots) >= MAX_CACHED_MODELS:
                    oldest = next(k for k in self._snapshots if k != id(self.baseline))
                    del self._snapshots[oldest]
                snapshot = SnapshotCells.build(
                    self._persons, self.list_of_person, self.n_lists, bundle
                )
                self._snapshots[key] = (bundle, snapshot)
            return self._snapshots[key][1]

    def _models(
        self,
        scenario: Scenario,
        scenario_bundle: ModelBundle | None,
        phase_in_from: ModelBundle | None,
    ) -> tuple[PricedModel, PricedModel | None, float]:
        """The model the scenario prices, the phase-in's old model, and the new model's share."""
        if scenario_bundle is None and scenario.model_version not in (None, self.baseline.name):
            raise scenario_error(
                [
                    (
                        "model_version",
                        f"{scenario.model_version!r} was not resolved to a model; "
                        "pass its bundle as scenario_bundle",
                    )
                ]
            )
        if (scenario.phase_in is None) != (phase_in_from is None):
            raise scenario_error(
                [
                    (
                        "phase_in",
                        "the engine needs the old model's bundle (phase_in_from) exactly when "
                        "the scenario has phase_in",
                    )
                ]
            )
        bundle = scenario_bundle or self.baseline
        new = price(bundle, self.snapshot_of(bundle), scenario)
        if phase_in_from is None or scenario.phase_in is None:
            return new, None, 1.0
        old = price(phase_in_from, self.snapshot_of(phase_in_from), Scenario())
        return new, old, scenario.phase_in.share

    def _weights_and_supplements(
        self, new: PricedModel, old: PricedModel | None, share: float, per: str
    ) -> tuple[np.ndarray, np.ndarray]:
        def total(model: PricedModel, values: np.ndarray) -> np.ndarray:
            return model.per_list(values) if per == "list" else model.per_person(values)

        weight = total(new, new.cell_weight)
        supplement = total(new, new.cell_supplement_nok)
        if old is not None:
            weight = share * weight + (1.0 - share) * total(old, old.cell_weight)
            supplement = share * supplement + (1.0 - share) * total(old, old.cell_supplement_nok)
        return weight, supplement

    def _rate(
        self, scenario: Scenario, new: PricedModel, weight: np.ndarray, supplement: np.ndarray
    ) -> tuple[float, float | None]:
        """The scenario's rate in NOK per weight unit, and the total it must spend (if any)."""
        if scenario.budget_nok is not None:
            target = float(scenario.budget_nok)
        elif scenario.budget_neutral:
            target = float(self.baseline_nok.sum())
        else:
            return new.own_rate_nok, None
        factor = list_rule_factor(self.persons_per_list, scenario)
        fixed = float(np.sum(factor * supplement))
        if fixed > target:
            raise scenario_error(
                [
                    (
                        "budget_nok",
                        f"the fixed supplements ({fixed:,.0f} NOK) exceed the budget "
                        f"({target:,.0f} NOK)",
                    )
                ]
            )
        return budget_neutral_rate(factor * weight, target, fixed), target

    def run(
        self,
        scenario: Scenario,
        scenario_bundle: ModelBundle | None = None,
        phase_in_from: ModelBundle | None = None,
        *,
        top_n: int = TOP_N,
        tolerance_nok: float = TOLERANCE_NOK,
    ) -> WhatIfResult:
        """Price ``scenario`` and compare it with the baseline per list, kommune and class.

        ``scenario_bundle`` is the model ``scenario.model_version`` names (the caller resolves
        versions); ``phase_in_from`` the old model of ``scenario.phase_in``.
        """
        new, old, share = self._models(scenario, scenario_bundle, phase_in_from)
        weight, supplement = self._weights_and_supplements(new, old, share, per="list")
        rate, target = self._rate(scenario, new, weight, supplement)
        factor = list_rule_factor(self.persons_per_list, scenario)
        scenario_nok = factor * person_grant(weight, rate, supplement)
        scheme = new.scheme
        if target is not None:
            scheme = SchemeParameters(**{**scheme.model_dump(), "budget_nok": target})
        return build_result(
            lists=self.lists.assign(persons=self.persons_per_list),
            baseline_nok=self.baseline_nok,
            scenario_nok=scenario_nok,
            scenario=scenario,
            baseline_model=self.baseline.name,
            scenario_model=new.name,
            phase_in_from=old.name if old is not None else None,
            baseline_rate_nok=self.baseline.rate_nok,
            scenario_rate_nok=rate,
            target_total_nok=target,
            scenario_scheme=scheme,
            top_n=top_n,
            tolerance_nok=tolerance_nok,
        )

    def person_grants(
        self,
        scenario: Scenario,
        scenario_bundle: ModelBundle | None = None,
        phase_in_from: ModelBundle | None = None,
    ) -> pd.DataFrame:
        """Each person's annual grant in NOK, baseline and scenario, before list-level rules.

        The scenario's rate is the one ``run`` uses, list-level rules included; only the rules'
        scaling of list totals is left out, since it belongs to lists, not persons.
        """
        new, old, share = self._models(scenario, scenario_bundle, phase_in_from)
        weight, supplement = self._weights_and_supplements(new, old, share, per="list")
        rate, _ = self._rate(scenario, new, weight, supplement)
        person_weight, person_supplement = self._weights_and_supplements(
            new, old, share, per="person"
        )
        base = self._baseline_model
        return pd.DataFrame(
            {
                "list_id": self.lists["list_id"].to_numpy()[self.list_of_person],
                "baseline_nok": person_grant(
                    base.per_person(base.cell_weight),
                    self.baseline.rate_nok,
                    base.per_person(base.cell_supplement_nok),
                ),
                "scenario_nok": person_grant(person_weight, rate, person_supplement),
            },
            index=self._persons.index,
        )


def run_whatif(
    snapshot_persons_with_practice: pd.DataFrame,
    lists: pd.DataFrame,
    kommuner: pd.DataFrame,
    baseline: ModelBundle,
    scenario: Scenario,
    scenario_bundle: ModelBundle | None = None,
    phase_in_from: ModelBundle | None = None,
) -> WhatIfResult:
    """One what-if run; build a ``WhatIfEngine`` instead to run many scenarios on one snapshot."""
    engine = WhatIfEngine(snapshot_persons_with_practice, lists, kommuner, baseline)
    return engine.run(scenario, scenario_bundle, phase_in_from)
