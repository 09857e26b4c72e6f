"""What a what-if run found: ``WhatIfResult`` and ``build_result``, which turns the engine's
unrounded list totals into it (tables per list, kommune and centrality class, quantiles and a
histogram of the change). The API answer and the report files are both made from it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features import SchemeParameters, round_nok
from serving.whatif.scenario import Scenario

QUANTILES = (0.0, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1.0)
MONEY = ("baseline_nok", "scenario_nok", "change_nok")
HISTOGRAM_BINS = 41  # bins a result holds; an API request may ask for finer ones


@dataclass(frozen=True, eq=False)
class WhatIfResult:
    """A scenario against the baseline: totals, who wins and who loses, and the tables behind it.

    Money is annual NOK, summed unrounded and rounded to øre per row; ``change_pct`` is per cent
    of the baseline. A list *wins* when its grant rises by more than ``tolerance_nok``, *loses*
    when it falls by more, and is *unchanged* otherwise.

    Tables: ``lists`` (list_id, practice_kommune, kommune_name, centrality, persons,
    baseline_nok, scenario_nok, change_nok, change_pct, outcome); ``kommuner`` (per practice
    kommune) and ``centrality`` (per class of the practice kommune), each with lists, persons,
    the money columns, change_pct, change_per_person_nok, winners, losers, unchanged;
    ``distribution`` (quantiles of the per-list change); ``histogram`` (lists per bin of
    change_pct, a bin centred on 0, outliers left out); ``histogram_outliers`` (those lists,
    largest change in per cent first); ``largest_gains`` and ``largest_losses`` (top lists in NOK).
    """

    scenario: Scenario
    baseline_model: str
    scenario_model: str
    phase_in_from: str | None
    baseline_rate_nok: float
    scenario_rate_nok: float
    scenario_scheme: SchemeParameters
    target_total_nok: float | None
    baseline_total_nok: float
    scenario_total_nok: float
    tolerance_nok: float
    winners: int
    losers: int
    unchanged: int
    lists: pd.DataFrame
    kommuner: pd.DataFrame
    centrality: pd.DataFrame
    distribution: pd.DataFrame
    histogram: pd.DataFrame
    histogram_outliers: pd.DataFrame
    largest_gains: pd.DataFrame
    largest_losses: pd.DataFrame

    @property
    def persons(self) -> int:
        return int(self.lists["persons"].sum())

    def summary(self) -> dict:
        """The headline figures as plain values, for a report, a log line or a JSON answer."""
        change = self.lists["change_pct"]
        return {
            "title": self.scenario.title or "",
            "scenario": self.scenario.changed_fields(),
            "baseline_model": self.baseline_model,
            "scenario_model": self.scenario_model,
            "phase_in_from": self.phase_in_from,
            "persons": self.persons,
            "lists": len(self.lists),
            "baseline_rate_nok": self.baseline_rate_nok,
            "scenario_rate_nok": self.scenario_rate_nok,
            "baseline_total_nok": self.baseline_total_nok,
            "scenario_total_nok": self.scenario_total_nok,
            "change_total_nok": round_nok(self.scenario_total_nok - self.baseline_total_nok),
            "target_total_nok": self.target_total_nok,
            "tolerance_nok": self.tolerance_nok,
            "winners": self.winners,
            "losers": self.losers,
            "unchanged": self.unchanged,
            "median_change_pct": float(change.median()),
            "largest_gain_pct": float(change.max()),
            "largest_loss_pct": float(change.min()),
        }


def _group_table(lists: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Lists summed per value of ``by[0]``, in its order; the other ``by`` columns are facts of
    it (a kommune's name and centrality class) and carried along.

    Summed with ``np.bincount`` over one factorisation: a pandas named aggregation took most of
    a national what-if's time.
    """
    codes, keys = pd.factorize(lists[by[0]], sort=True)
    groups = len(keys)
    first = np.unique(codes, return_index=True)[1]  # each group's first list

    def total(values: np.ndarray | pd.Series) -> np.ndarray:
        return np.bincount(codes, weights=np.asarray(values, dtype="float64"), minlength=groups)

    def count(mask: np.ndarray) -> np.ndarray:
        return np.bincount(codes[mask], minlength=groups).astype("int64")

    outcome = lists["outcome"].to_numpy()
    table = pd.DataFrame(
        {
            **{column: lists[column].iloc[first].reset_index(drop=True) for column in by},
            "lists": np.bincount(codes, minlength=groups).astype("int64"),
            "persons": total(lists["persons"]).round().astype("int64"),
            **{money: total(lists[money]) for money in MONEY},
        }
    )
    table["change_pct"] = 100.0 * table["change_nok"] / table["baseline_nok"]
    table["change_per_person_nok"] = table["change_nok"] / table["persons"]
    table["winners"] = count(outcome == "gains")
    table["losers"] = count(outcome == "loses")
    table["unchanged"] = count(outcome == "unchanged")
    return table


OUTLIER_FENCE = 3.0  # Tukey's far-out fences: 3 spreads beyond the quartiles
MIN_SPREAD_PCT = 0.1  # a spread never narrower than this, so identical changes are not outliers


def outlier_mask(change_pct: np.ndarray) -> np.ndarray:
    """Lists whose change lies beyond the far-out fences: named beside the histogram, not in it.

    The spread is the interquartile range, at least half the 5-95 % range and
    ``MIN_SPREAD_PCT``, so a few lists lifted by hundreds of per cent (a floor) never decide the
    axis that hundreds of lists moving by one per cent are read on, while a group of more than
    one list in twenty (such as the lists that lose a little) always stays on it.
    """
    values = np.asarray(change_pct, dtype="float64")
    finite = values[np.isfinite(values)]
    if len(finite) < 4:
        return np.zeros(len(values), dtype=bool)
    p05, q1, q3, p95 = np.quantile(finite, [0.05, 0.25, 0.75, 0.95])
    spread = max(q3 - q1, 0.5 * (p95 - p05), MIN_SPREAD_PCT)
    low, high = q1 - OUTLIER_FENCE * spread, q3 + OUTLIER_FENCE * spread
    with np.errstate(invalid="ignore"):
        return np.isfinite(values) & ((values < low) | (values > high))


def change_histogram(change_pct: np.ndarray, max_bins: int = HISTOGRAM_BINS) -> pd.DataFrame:
    """Lists per bin of change in per cent; bins of a round width, one centred on 0.

    Outliers (``outlier_mask``) are left out: the result names them instead.
    """
    values = np.asarray(change_pct, dtype="float64")
    values = values[np.isfinite(values) & ~outlier_mask(values)]
    span = float(np.max(np.abs(values))) if len(values) else 0.0
    widths = [m * 10.0**e for e in range(-1, 4) for m in (1, 2, 5)]
    width = next((w for w in widths if 2 * np.ceil(span / w - 0.5) + 1 <= max_bins), widths[-1])
    half = int(np.ceil(span / width - 0.5))
    edges = (np.arange(-half, half + 2) - 0.5) * width
    counts, _ = np.histogram(values, bins=edges)
    return pd.DataFrame({"bin_low_pct": edges[:-1], "bin_high_pct": edges[1:], "lists": counts})


def _outliers(table: pd.DataFrame) -> pd.DataFrame:
    found = table[outlier_mask(table["change_pct"].to_numpy())]
    order = found["change_pct"].abs().sort_values(ascending=False, kind="stable").index
    return found.loc[order]


def build_result(
    *,
    lists: pd.DataFrame,
    baseline_nok: np.ndarray,
    scenario_nok: np.ndarray,
    top_n: int,
    tolerance_nok: float,
    **provenance,
) -> WhatIfResult:
    """The result tables from the unrounded list totals of baseline and scenario."""
    change = scenario_nok - baseline_nok
    with np.errstate(divide="ignore", invalid="ignore"):
        change_pct = np.where(baseline_nok != 0, 100.0 * change / baseline_nok, np.nan)
    outcome = np.where(
        change > tolerance_nok, "gains", np.where(change < -tolerance_nok, "loses", "unchanged")
    )
    table = lists.assign(
        baseline_nok=baseline_nok,
        scenario_nok=scenario_nok,
        change_nok=change,
        change_pct=change_pct,
        outcome=outcome,
    )
    kommuner = _group_table(table, ["practice_kommune", "kommune_name", "centrality"])
    centrality = _group_table(table, ["centrality"])
    distribution = pd.DataFrame(
        {
            "quantile": QUANTILES,
            "change_nok": np.quantile(change, QUANTILES),
            "change_pct": np.nanquantile(change_pct, QUANTILES),
        }
    )
    for frame in (table, kommuner, centrality, distribution):
        for money in MONEY:
            if money in frame:
                frame[money] = round_nok(frame[money].to_numpy())
    by_change = table.sort_values(["change_nok", "list_id"], kind="stable")
    return WhatIfResult(
        **provenance,
        baseline_total_nok=round_nok(float(baseline_nok.sum())),
        scenario_total_nok=round_nok(float(scenario_nok.sum())),
        tolerance_nok=tolerance_nok,
        winners=int((outcome == "gains").sum()),
        losers=int((outcome == "loses").sum()),
        unchanged=int((outcome == "unchanged").sum()),
        lists=table,
        kommuner=kommuner,
        centrality=centrality,
        distribution=distribution,
        histogram=change_histogram(change_pct),
        histogram_outliers=_outliers(table),
        largest_gains=by_change[by_change["outcome"] == "gains"].iloc[::-1].head(top_n),
        largest_losses=by_change[by_change["outcome"] == "loses"].head(top_n),
    )
