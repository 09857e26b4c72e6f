"""The reform waterfall as files for a policy note: CSV tables and a PNG chart.

``ptb whatif --reform`` writes them; the tables are ``features.reform.waterfall``'s. The chart
shows the NOK each step moves nationally and, beside it, the same steps by kommune size band,
so the utjamning transfer's winners and losers in small kommuner are visible at a glance.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from features import GROUPINGS, reform_steps

GAIN_COLOUR = "#2a7f62"
LOSS_COLOUR = "#b5443b"
TOTAL_COLOUR = "#1f5f99"
STEP_LABELS = {step.name: step.label for step in reform_steps()}


def _mnok(amount: float) -> str:
    return f"{amount / 1e6:+,.1f} MNOK".replace(",", " ")


def write_waterfall(tables: dict[str, pd.DataFrame], out_dir: str | Path, title: str) -> list[Path]:
    """``waterfall_<table>.csv`` for the steps, lists and every grouping, and ``waterfall.png``.

    Amounts in the CSVs are annual NOK rounded to øre.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name in ("steps", "lists", *GROUPINGS):
        table = tables[name].copy()
        money = [c for c in table.columns if c.endswith("_nok") or c in STEP_LABELS]
        table[money] = table[money].round(2)
        path = out / f"waterfall_{name}.csv"
        table.to_csv(path, index=False)
        written.append(path)
    path = out / "waterfall.png"
    waterfall_chart(tables, path, title)
    written.append(path)
    return written


def waterfall_chart(tables: dict[str, pd.DataFrame], path: Path, title: str) -> None:
    """National waterfall (left) and the steps by kommune size band (right)."""
    from matplotlib.figure import Figure

    steps = tables["steps"]
    lists = tables["lists"]
    figure = Figure(figsize=(12.0, 5.2), dpi=120, layout="constrained")
    figure.suptitle(title, x=0.01, ha="left", fontsize=10)
    national, by_band = figure.subplots(1, 2, width_ratios=[1.1, 1.0])
    for ax in (national, by_band):
        ax.spines[["top", "right"]].set_visible(False)
    before = float(lists["before_nok"].sum())
    labels = [STEP_LABELS.get(name, name) for name in steps["step"]]
    x = np.arange(len(labels))
    gains, losses = steps["gains_nok"].to_numpy(), steps["losses_nok"].to_numpy()
    net = steps["moved_nok"].to_numpy()
    national.bar(x, gains / 1e6, color=GAIN_COLOUR, width=0.6, label="gained by lists that gain")
    national.bar(x, losses / 1e6, color=LOSS_COLOUR, width=0.6, label="lost by lists that lose")
    national.scatter(x, net / 1e6, color="black", marker="D", s=18, zorder=3, label="net")
    for i in range(len(x)):
        national.annotate(
            f"{steps['gaining_lists'].iloc[i]} up / {steps['losing_lists'].iloc[i]} down",
            (x[i], gains[i] / 1e6),
            xytext=(0, 3),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=7,
        )
    national.axhline(0, color="black", linewidth=0.8)
    national.set_xticks(x, labels, rotation=25, ha="right")
    national.set_ylabel("NOK moved, million a year")
    change = float(lists["change_nok"].sum())
    before_mnok = f"{before / 1e6:,.0f}".replace(",", " ")
    national.set_title(
        f"Each step, all lists ({before_mnok} MNOK before, net {_mnok(change)})",
        loc="left",
        fontsize=10,
    )
    national.legend(fontsize=8, frameon=False, loc="lower left")
    band_table = tables["size_band"].set_index("size_band")
    names = list(steps["step"])
    colours = ("#c7872e", "#6b8fb5", "#1f5f99", "#9aa3ad")
    width = 0.8 / max(len(band_table), 1)
    for j, (band, row) in enumerate(band_table.iterrows()):
        values = row[names].to_numpy(dtype="float64") / 1e6
        by_band.bar(
            np.arange(len(names)) + (j - (len(band_table) - 1) / 2) * width,
            values,
            width=width,
            color=colours[j % len(colours)],
            label=f"kommune {band} ({int(row['lists'])} lists)",
        )
    by_band.axhline(0, color="black", linewidth=0.8)
    by_band.set_xticks(range(len(names)), labels, rotation=25, ha="right")
    by_band.set_ylabel("net NOK moved, million a year")
    by_band.set_title("Net by kommune size (inhabitants)", loc="left", fontsize=10)
    by_band.legend(fontsize=8, frameon=False)
    figure.savefig(path)
