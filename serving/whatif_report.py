"""What a what-if run reports: result tables, and the CSV files and PNG charts of ``ptb whatif``.

``build_result`` turns the engine's unrounded list totals into ``WhatIfResult``; ``write_report``
writes what a policy note needs: the tables as CSV and three charts (distribution of the change
per list, change by centrality class, the kommuner that move most). Charts are drawn on a bare
``matplotlib.figure.Figure`` (the Agg canvas), so no display and no global pyplot state.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from features.scheme import SchemeParameters, round_nok
from serving.scenario import Scenario

QUANTILES = (0.0, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1.0)
MONEY = ("baseline_nok", "scenario_nok", "change_nok")


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
    table = (
        lists.assign(
            winners=lists["outcome"] == "gains",
            losers=lists["outcome"] == "loses",
            unchanged=lists["outcome"] == "unchanged",
        )
        .groupby(by, sort=True)
        .agg(
            lists=("list_id", "size"),
            persons=("persons", "sum"),
            **{money: (money, "sum") for money in MONEY},
            winners=("winners", "sum"),
            losers=("losers", "sum"),
            unchanged=("unchanged", "sum"),
        )
        .reset_index()
    )
    table.insert(len(by) + 5, "change_pct", 100.0 * table["change_nok"] / table["baseline_nok"])
    table.insert(len(by) + 6, "change_per_person_nok", table["change_nok"] / table["persons"])
    return table


OUTLIER_FENCE = 3.0  # Tukey's far-out fences: 3 spreads beyond the quartiles
MIN_SPREAD_PCT = 0.1  # a spread never narrower than this, so identical changes are not outliers


def outlier_mask(change_pct: np.ndarray) -> np.ndarray:
    """Lists whose change lies beyond the far-out fences: named beside the histogram, not in it.

    The spread is the interquartile range, at least half the 10-90 % range and
    ``MIN_SPREAD_PCT``, so a few lists lifted by hundreds of per cent (a floor) never decide the
    axis that hundreds of lists moving by one per cent are read on.
    """
    values = np.asarray(change_pct, dtype="float64")
    finite = values[np.isfinite(values)]
    if len(finite) < 4:
        return np.zeros(len(values), dtype=bool)
    p10, q1, q3, p90 = np.quantile(finite, [0.10, 0.25, 0.75, 0.90])
    spread = max(q3 - q1, 0.5 * (p90 - p10), MIN_SPREAD_PCT)
    low, high = q1 - OUTLIER_FENCE * spread, q3 + OUTLIER_FENCE * spread
    with np.errstate(invalid="ignore"):
        return np.isfinite(values) & ((values < low) | (values > high))


def change_histogram(change_pct: np.ndarray, max_bins: int = 41) -> pd.DataFrame:
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


# -- files for a policy note --------------------------------------------------------------------

GAIN_COLOUR = "#2a7f62"
LOSS_COLOUR = "#b5443b"
NEUTRAL_COLOUR = "#8c8c8c"
TOP_KOMMUNER = 10


def _nok(amount: float) -> str:
    """Whole NOK with a sign and spaces between thousands, as Norwegian reports write them."""
    return f"{amount:+,.0f}".replace(",", " ")


def _count(n: int, noun: str) -> str:
    return f"{n:,}".replace(",", " ") + f" {noun}{'' if n == 1 else 's'}"


def _title(result: WhatIfResult) -> str:
    name = result.scenario.title or ", ".join(
        f"{key}={value}" for key, value in result.scenario.changed_fields().items()
    )
    return name or "scenario identical to the baseline"


def _subtitle(result: WhatIfResult) -> str:
    models = result.scenario_model
    if result.phase_in_from:
        models = f"{result.phase_in_from} to {result.scenario_model}"
    moved = result.scenario_total_nok - result.baseline_total_nok
    total = f"total {_nok(moved)} NOK a year" if abs(moved) >= 1 else "total unchanged"
    counts = f"{_count(len(result.lists), 'list')}, {_count(result.persons, 'person')}"
    return f"baseline {result.baseline_model}, scenario {models}; {counts}; {total}"


def _figure(result: WhatIfResult, width: float, height: float, panels: int = 1):
    """A figure titled with the scenario and its provenance, and its axes."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=120, layout="constrained")
    figure.suptitle(
        f"{_title(result)}\n{_subtitle(result)}", x=0.01, ha="left", fontsize=10, linespacing=1.6
    )
    axes = figure.subplots(1, panels, squeeze=False)[0]
    for ax in axes:
        ax.spines[["top", "right"]].set_visible(False)
    return figure, axes


def _sign_colours(values: np.ndarray) -> np.ndarray:
    return np.where(values > 0, GAIN_COLOUR, np.where(values < 0, LOSS_COLOUR, NEUTRAL_COLOUR))


def _histogram_chart(result: WhatIfResult, path: Path) -> None:
    from matplotlib.patches import Patch

    figure, (axes,) = _figure(result, 9.0, 5.0)
    bins = result.histogram
    low, high = bins["bin_low_pct"].to_numpy(), bins["bin_high_pct"].to_numpy()
    centres = (low + high) / 2
    axes.bar(centres, bins["lists"], width=0.95 * (high - low), color=_sign_colours(centres))
    axes.axvline(0, color="black", linewidth=0.8)
    reach = max(1.0, float(np.max(np.abs(high))))
    axes.set_xlim(-reach, reach)
    axes.set_xlabel("change in the list's annual grant (% of the baseline)")
    axes.set_ylabel("lists")
    axes.set_title("Distribution of the change per list", loc="left", fontsize=10)
    half = (high[0] - low[0]) / 2
    axes.legend(
        handles=[
            Patch(color=GAIN_COLOUR, label=_count(result.winners, "list") + " gain"),
            Patch(color=LOSS_COLOUR, label=_count(result.losers, "list") + " lose"),
            Patch(color=NEUTRAL_COLOUR, label=f"bin within ±{half:g} %"),
        ],
        title=f"{_count(result.unchanged, 'list')} within ±{result.tolerance_nok:g} NOK"
        + _outlier_note(result),
        loc="upper right",
        fontsize=8,
        title_fontsize=8,
        frameon=False,
    )
    figure.savefig(path)


def _outlier_note(result: WhatIfResult, shown: int = 3) -> str:
    """The lists left off the histogram's axis, named (the largest first)."""
    outliers = result.histogram_outliers
    if outliers.empty:
        return ""
    named = ", ".join(
        f"{row.list_id} {row.kommune_name} {row.change_pct:+.0f} %"
        for row in outliers.head(shown).itertuples()
    )
    more = len(outliers) - shown
    return f"\noff the axis: {named}" + (f" and {more} more" if more > 0 else "")


def _centrality_chart(result: WhatIfResult, path: Path) -> None:
    figure, (axes,) = _figure(result, 8.0, 4.8)
    table = result.centrality
    per_person = table["change_per_person_nok"].to_numpy()
    labels = [
        f"class {c}\n{_count(n, 'list')}"
        for c, n in zip(table["centrality"], table["lists"], strict=True)
    ]
    bars = axes.bar(labels, per_person, color=_sign_colours(per_person))
    for bar, nok, pct in zip(bars, per_person, table["change_pct"], strict=True):
        above = nok >= 0
        axes.annotate(
            f"{_nok(nok)} NOK\n({pct:+.1f} %)",
            (bar.get_x() + bar.get_width() / 2, nok),
            xytext=(0, 3 if above else -3),
            textcoords="offset points",
            ha="center",
            va="bottom" if above else "top",
            fontsize=8,
        )
    axes.axhline(0, color="black", linewidth=0.8)
    low, high = min(0.0, per_person.min()), max(0.0, per_person.max())
    margin = 0.3 * max(high - low, 1.0)
    axes.set_ylim(low - (margin if low < 0 else 0), high + margin)
    axes.set_ylabel("change per listed person (NOK a year)")
    axes.set_xlabel("centrality class of the practice kommune (1 most central, 6 least)")
    axes.set_title("Change by centrality class", loc="left", fontsize=10)
    figure.savefig(path)


def _movers(table: pd.DataFrame, column: str) -> pd.DataFrame:
    ordered = table.sort_values([column, "practice_kommune"])
    losses = ordered[ordered[column] < 0].head(TOP_KOMMUNER)
    gains = ordered[ordered[column] > 0].tail(TOP_KOMMUNER)
    return pd.concat([losses, gains])


def _kommune_chart(result: WhatIfResult, path: Path) -> None:
    from matplotlib.ticker import MaxNLocator

    movers_nok = _movers(result.kommuner, "change_nok")
    movers_pct = _movers(result.kommuner, "change_pct")
    rows = max(len(movers_nok), len(movers_pct), 1)
    figure, axes = _figure(result, 13.0, 0.3 * rows + 2.2, panels=2)
    panels = (
        (axes[0], movers_nok, "change_nok", 1e-3, "1,000 NOK a year", "in NOK"),
        (axes[1], movers_pct, "change_pct", 1.0, "% of the baseline", "in per cent"),
    )
    for ax, movers, column, scale, unit, how in panels:
        ax.set_title(
            f"Largest changes {how} (top {TOP_KOMMUNER} kommuner each way)",
            loc="left",
            fontsize=9,
        )
        if movers.empty:
            ax.text(0.5, 0.5, "no kommune changes", ha="center", transform=ax.transAxes)
            ax.set_axis_off()
            continue
        values = movers[column].to_numpy() * scale
        labels = [
            f"{name} ({code}, class {c})"
            for name, code, c in zip(
                movers["kommune_name"],
                movers["practice_kommune"],
                movers["centrality"],
                strict=True,
            )
        ]
        ax.barh(labels, values, color=_sign_colours(values))
        notes = (
            [f"{p:+.1f} %" for p in movers["change_pct"]]
            if column == "change_nok"
            else [f"{_nok(n / 1000)}k NOK" for n in movers["change_nok"]]
        )
        for y, (value, note) in enumerate(zip(values, notes, strict=True)):
            ax.annotate(
                note,
                (value, y),
                xytext=(4 if value >= 0 else -4, 0),
                textcoords="offset points",
                ha="left" if value >= 0 else "right",
                va="center",
                fontsize=7,
            )
        span = max(values.max(), 0) - min(values.min(), 0)
        ax.set_xlim(min(values.min(), 0) - 0.4 * span, max(values.max(), 0) + 0.4 * span)
        ax.xaxis.set_major_locator(MaxNLocator(6))
        ax.axvline(0, color="black", linewidth=0.8)
        ax.tick_params(axis="y", labelsize=8)
        ax.set_xlabel(f"change in the kommune's annual grant ({unit})")
    figure.savefig(path)


def summary_table(result: WhatIfResult) -> pd.DataFrame:
    """The headline figures as ``measure, value`` rows; the scenario's fields as JSON text."""
    rows = [
        (key, json.dumps(value) if isinstance(value, dict) else value)
        for key, value in result.summary().items()
    ]
    return pd.DataFrame(rows, columns=["measure", "value"])


def write_report(result: WhatIfResult, out_dir: str | Path) -> dict[str, Path]:
    """Write the CSV tables and PNG charts of ``result`` to ``out_dir``; returns name to path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tables = {
        "summary": summary_table(result),
        "lists": result.lists,
        "kommuner": result.kommuner,
        "centrality": result.centrality,
        "distribution": result.distribution,
        "histogram": result.histogram,
        "largest_gains": result.largest_gains,
        "largest_losses": result.largest_losses,
    }
    written: dict[str, Path] = {}
    for name, table in tables.items():
        written[name] = out / f"{name}.csv"
        table.to_csv(written[name], index=False)
    for name, draw in (
        ("change_histogram", _histogram_chart),
        ("change_by_centrality", _centrality_chart),
        ("top_kommuner", _kommune_chart),
    ):
        written[name] = out / f"{name}.png"
        draw(result, written[name])
    return written
