"""The gate's checks on a model bundle, shared by ``ptb promote`` (training) and reload (serving).

A bundle carries the persons behind every factor level of its weight table, so the checks
that need only the bundle (and, for pricing, a registry snapshot) live here, where both sides
of the product can reach them: training adds the checks that need its validation artifacts
(``training.gate``), serving adds its own smoke tests (``serving.reload``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.bundle import ModelBundle
from features.contract import Dataset

# Every level the scheme pays must be estimated from at least this many persons (documented in
# README "The promotion gate"). A level of 500 persons estimates its supplement to within about
# +-450 NOK (95 %), a tenth of the mean annual cost; the national data holds thousands in each.
MIN_LEVEL_PERSONS = 500


@dataclass(frozen=True)
class GateCheck:
    """One check of the gate: whether it passed, the figure it turned on, and why."""

    name: str
    passed: bool
    figure: str
    detail: str

    @property
    def outcome(self) -> str:
        return "pass" if self.passed else "FAIL"


def level_support(
    bundle: ModelBundle,
    min_persons: int = MIN_LEVEL_PERSONS,
    in_use: Mapping[str, np.ndarray] | None = None,
) -> GateCheck:
    """Every level of the weight table estimated from at least ``min_persons`` persons.

    An empty paid level gets 0 NOK without anyone deciding so; a thin one gets a noisy amount.
    Both are refused, naming each level, as an empty age group is refused at calibration. The
    reference levels, which pay no supplement, are checked too and named as such. With
    ``in_use`` (each factor's level codes of the persons to be paid, as
    ``PersonScorer.features`` gives them) only the levels of those persons count.
    """
    table = bundle.weight_table
    if in_use is not None:
        used = np.zeros(len(table), dtype=bool)
        for factor, codes in in_use.items():
            present = np.unique(np.asarray(codes))
            used |= (table["factor"] == factor).to_numpy() & table["level_code"].isin(
                present
            ).to_numpy()
        table = table[used]
    persons = pd.to_numeric(table["persons"], errors="coerce").fillna(0).astype("int64")
    thin = table[persons < min_persons]
    smallest = int(persons.min()) if len(persons) else 0
    scope = "weight-table levels" if in_use is None else "weight-table levels of the snapshot"
    figure = f"smallest level {smallest:,} persons (minimum {min_persons:,})"
    if thin.empty:
        return GateCheck(
            "level_support", True, figure, f"all {len(table)} {scope} have enough persons"
        )
    named = [
        f"{row.factor}={row.level} ({int(count):,})"
        for row, count in zip(thin.itertuples(), persons[thin.index], strict=True)
    ]
    reference = _reference_levels(bundle, thin)
    kinds = {
        "paid": [name for name, ref in zip(named, reference, strict=True) if not ref],
        "reference, paid no supplement": [
            n for n, ref in zip(named, reference, strict=True) if ref
        ],
    }
    listed = "; ".join(f"{kind}: {', '.join(names)}" for kind, names in kinds.items() if names)
    empty = int((persons[thin.index] == 0).sum())
    detail = f"{len(named)} {scope} under {min_persons:,} persons ({empty} empty); {listed}"
    return GateCheck("level_support", False, figure, detail)


def _reference_levels(bundle: ModelBundle, table: pd.DataFrame) -> np.ndarray:
    """Which rows of the weight table are reference levels: a person there gets no term of that
    factor. Every age-and-sex cell is paid; of the supplements, the first level is the reference,
    and so is each centrality class that is not a supplement class (1-4 under the rules)."""
    supplement_codes = [c - 1 for c in bundle.indicators.centrality_supplement_classes]
    centrality = (table["factor"] == "centrality") & ~table["level_code"].isin(supplement_codes)
    first = (table["factor"] != "age_sex") & (table["level_code"] == 0)
    return (first | centrality).to_numpy()


def snapshot_pricing(bundle: ModelBundle, snapshot: Dataset) -> GateCheck:
    """The candidate prices every person and list of the current registry snapshot.

    It prices as it would pay: with the snapshot's own release (its kommuner and grunnkretser)
    at the period's rate. A code the release does not know, or a split code, refuses it.
    """
    from features.grants import list_grants, period_scorer, person_grants
    from features.releases import Release

    try:
        release = Release.from_dataset(snapshot, "registry snapshot")
        scorer = period_scorer(bundle, snapshot, release)
        lists = list_grants(person_grants(bundle, snapshot, scorer=scorer))
    except Exception as exc:  # noqa: BLE001 - any failure to price refuses the version
        return GateCheck("snapshot_pricing", False, "not priced", f"{type(exc).__name__}: {exc}")
    total = float(np.sum(lists["total_nok"]))
    figure = f"{len(snapshot.persons):,} persons, {len(lists):,} lists, {total:,.0f} NOK a year"
    if not (np.isfinite(lists["total_nok"]).all() and math.isfinite(total) and total > 0):
        return GateCheck("snapshot_pricing", False, figure, "list grants not finite, or 0 NOK")
    return GateCheck("snapshot_pricing", True, figure, "every list of the snapshot is priced")
