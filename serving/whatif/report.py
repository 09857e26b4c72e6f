"""What ``ptb whatif`` writes for a policy note: the result tables as CSV and three PNG charts
(distribution of the change per list, change by centrality class, the kommuner that move most).
Charts are drawn on a bare ``matplotlib.figure.Figure`` (the Agg canvas), so no display and no
global pyplot state.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from features import neutralise_frame
from serving.whatif.result import WhatIfResult

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
        neutralise_frame(table).to_csv(written[name], index=False)  # see features.csv_cells
    for name, draw in (
        ("change_histogram", _histogram_chart),
        ("change_by_centrality", _centrality_chart),
        ("top_kommuner", _kommune_chart),
    ):
        written[name] = out / f"{name}.png"
        draw(result, written[name])
    return written
