"""``/v1/whatif``: the answer models, and ``redistribution``, which turns the engine's ``WhatIfResult`` into
the declared response model, so no DataFrame leaves a handler. No HTTP here; the engines and
the kept results are in ``serving.whatif.cache``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import pandas as pd
from pydantic import BaseModel, Field

from serving.schemas.common import ModelProvenance, json_number, json_records, provenance
from serving.whatif import HISTOGRAM_BINS, WhatIfResult, change_histogram

if TYPE_CHECKING:
    from serving.loaded_model import LoadedModel

NAMED_OUTLIERS = 20
KommuneOrder = Literal["change_nok", "change_pct", "change_per_person_nok"]


# -- response models ----------------------------------------------------------------------------


class ModelUsed(ModelProvenance):
    """A registered model version a what-if priced with."""


class ScenarioScheme(BaseModel):
    """The scheme the scenario pays with: dampening, refugee rate, rate and total."""

    dampening: float = Field(description="share of the grant kept flat per person, 0-1")
    refugee_rate_nok: float | None = Field(description="fixed annual NOK per first-year refugee")
    rate_nok: float = Field(description="annual NOK per unit of relative weight")
    budget_neutral: bool = Field(description="the rate was rescaled to spend target_total_nok")
    target_total_nok: float | None = Field(description="the total the rate spends, annual NOK")


class _Change(BaseModel):
    lists: int
    persons: int
    baseline_nok: float = Field(description="annual grant under the current scheme, NOK")
    scenario_nok: float = Field(description="annual grant under the scenario, NOK")
    change_nok: float = Field(description="scenario minus baseline, annual NOK")
    change_pct: float | None = Field(description="change in per cent of the baseline")
    change_per_person_nok: float = Field(description="change per listed person, annual NOK")
    winners: int
    losers: int
    unchanged: int


class CentralityChange(_Change):
    """The change summed over the lists whose practice kommune is in one centrality class."""

    centrality: int = Field(description="centrality class, 1 most central to 6 least")


class KommuneChange(_Change):
    """The change summed over the lists of one practice kommune."""

    practice_kommune: str
    kommune_name: str
    centrality: int


class ListChange(BaseModel):
    """One list under the baseline and the scenario."""

    list_id: str
    practice_kommune: str
    kommune_name: str
    centrality: int
    persons: int
    baseline_nok: float
    scenario_nok: float
    change_nok: float
    change_pct: float | None
    outcome: Literal["gains", "loses", "unchanged"]


class Quantile(BaseModel):
    """A quantile of the per-list change, in NOK and in per cent."""

    quantile: float = Field(ge=0, le=1)
    change_nok: float
    change_pct: float | None


class HistogramBin(BaseModel):
    """Lists whose change in per cent falls in ``[bin_low_pct, bin_high_pct)``."""

    bin_low_pct: float
    bin_high_pct: float
    lists: int


class ListPage(BaseModel):
    """Every list's change, one page in ``list_id`` order."""

    offset: int
    limit: int
    total: int = Field(description="lists in the snapshot")
    rows: list[ListChange]


class Redistribution(BaseModel):
    """A scenario priced against the current scheme: totals, winners, losers and where."""

    title: str | None = Field(description="the scenario's title")
    scenario: dict = Field(description="the fields the scenario sets, as in its YAML file")
    reference_release: str | None = Field(
        None, description="the reference release the current scheme is priced with"
    )
    scenario_reference_release: str | None = Field(
        None, description="the release the scenario is priced with (its own, if it names one)"
    )
    baseline: ModelUsed = Field(description="the current scheme: the served model as it is")
    scenario_model: ModelUsed = Field(description="the model the scenario prices with")
    phase_in_from: ModelUsed | None = Field(description="the old model of a phase-in")
    phase_in_share: float | None = Field(description="the new model's share in a phase-in")
    scheme: ScenarioScheme
    persons: int = Field(description="listed persons in the snapshot")
    lists: int = Field(description="lists with persons in the snapshot")
    baseline_total_nok: float = Field(description="annual total of the current scheme, NOK")
    scenario_total_nok: float = Field(description="annual total of the scenario, NOK")
    change_total_nok: float
    baseline_rate_nok: float = Field(description="NOK per weight unit under the current scheme")
    scenario_rate_nok: float = Field(description="NOK per weight unit under the scenario")
    tolerance_nok: float = Field(description="a list moving by at most this is unchanged")
    winners: int = Field(description="lists whose annual grant rises by more than the tolerance")
    losers: int = Field(description="lists whose annual grant falls by more than the tolerance")
    unchanged: int
    median_change_pct: float | None
    centrality: list[CentralityChange]
    distribution: list[Quantile]
    histogram: list[HistogramBin] = Field(
        description="lists per bin of the change in per cent; outliers are left out"
    )
    histogram_outliers: list[ListChange] = Field(
        description="the lists beyond the histogram's far-out fences, named instead of "
        "stretching its axis; largest change in per cent first, at most 20"
    )
    histogram_outliers_total: int = Field(description="lists beyond the fences in all")
    largest_gains: list[ListChange]
    largest_losses: list[ListChange]
    kommuner: list[KommuneChange] = Field(
        description="the kommuner that move most by kommune_order (absolute value), top first"
    )
    kommuner_total: int = Field(description="practice kommuner in the snapshot")
    kommune_order: KommuneOrder
    list_page: ListPage | None = Field(None, description="the lists, when asked (?lists=true)")
    period: Literal["annual"] = "annual"
    currency: Literal["NOK"] = "NOK"


def model_used(model: LoadedModel) -> ModelUsed:
    return ModelUsed(**provenance(model))


def _rows(model: type[BaseModel], frame: pd.DataFrame) -> list:
    return [model.model_validate(row) for row in json_records(frame, model.model_fields)]


def list_changes(result: WhatIfResult) -> pd.DataFrame:
    """The lists of a result in ``list_id`` order: the order of the pages and the CSV."""
    return result.lists.sort_values("list_id", kind="stable")


def redistribution(
    result: WhatIfResult,
    *,
    baseline: LoadedModel,
    scenario_model: LoadedModel,
    phase_in_from: LoadedModel | None,
    kommuner: int,
    kommune_order: KommuneOrder,
    list_page: tuple[int, int] | None = None,
    histogram_bins: int = HISTOGRAM_BINS,
    reference_release: str | None = None,
) -> Redistribution:
    """The API's answer for a what-if result; ``list_page`` is ``(offset, limit)`` if asked.

    ``histogram_bins`` caps the bins of the histogram (round widths, one bin centred on 0).
    """
    summary = result.summary()
    scenario = result.scenario
    movers = result.kommuner.assign(_size=result.kommuner[kommune_order].abs())
    movers = movers.sort_values(["_size", "practice_kommune"], ascending=[False, True])
    page = None
    if list_page is not None:
        offset, limit = list_page
        rows = list_changes(result).iloc[offset : offset + limit]
        page = ListPage(
            offset=offset, limit=limit, total=len(result.lists), rows=_rows(ListChange, rows)
        )
    median = summary["median_change_pct"]
    histogram = result.histogram
    if histogram_bins != HISTOGRAM_BINS:
        histogram = change_histogram(result.lists["change_pct"].to_numpy(), histogram_bins)
    return Redistribution(
        title=scenario.title,
        scenario=scenario.changed_fields(),
        reference_release=reference_release,
        scenario_reference_release=scenario.reference_release or reference_release,
        baseline=model_used(baseline),
        scenario_model=model_used(scenario_model),
        phase_in_from=model_used(phase_in_from) if phase_in_from is not None else None,
        phase_in_share=scenario.phase_in.share if scenario.phase_in is not None else None,
        scheme=ScenarioScheme(
            dampening=result.scenario_scheme.dampening,
            refugee_rate_nok=result.scenario_scheme.refugee_rate_nok,
            rate_nok=result.scenario_rate_nok,
            budget_neutral=result.target_total_nok is not None,
            target_total_nok=result.target_total_nok,
        ),
        persons=summary["persons"],
        lists=summary["lists"],
        baseline_total_nok=result.baseline_total_nok,
        scenario_total_nok=result.scenario_total_nok,
        change_total_nok=summary["change_total_nok"],
        baseline_rate_nok=result.baseline_rate_nok,
        scenario_rate_nok=result.scenario_rate_nok,
        tolerance_nok=result.tolerance_nok,
        winners=result.winners,
        losers=result.losers,
        unchanged=result.unchanged,
        median_change_pct=json_number(median),
        centrality=_rows(CentralityChange, result.centrality),
        distribution=_rows(Quantile, result.distribution),
        histogram=_rows(HistogramBin, histogram),
        histogram_outliers=_rows(ListChange, result.histogram_outliers.head(NAMED_OUTLIERS)),
        histogram_outliers_total=len(result.histogram_outliers),
        largest_gains=_rows(ListChange, result.largest_gains),
        largest_losses=_rows(ListChange, result.largest_losses),
        kommuner=_rows(KommuneChange, movers.head(kommuner)),
        kommuner_total=len(result.kommuner),
        kommune_order=kommune_order,
        list_page=page,
    )
