"""Figures for a training run: the tariff's weights and the out-of-sample predictive ratios.

Figures are drawn on matplotlib's Agg canvas directly (object-oriented API, no ``pyplot``), so
importing this module neither needs a display nor changes the backend of the process.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from training.gate import GateBounds

SEX_STYLE = {"F": ("#c0392b", "women"), "M": ("#2e6da4", "men")}
DPI = 120
MARGIN = 0.03  # ratio units of panel shown beyond the gate's bounds and the outermost ratio
DOCUMENTED_GATE = GateBounds()  # the bounds a ratio plot shades unless given the run's gate


def _new_figure(width: float, height: float) -> Figure:
    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png")
    return path


def plot_weights(weight_table: pd.DataFrame, path: str | Path, *, title: str = "") -> Path:
    """Draw the tariff: age-and-sex weights as lines, supplements as NOK bars with CIs.

    Left: relative weight (mean 1 over the population) of each age-and-sex cell, one line for
    women and one for men over the age bands. Right: the supplement effects in annual NOK per
    person with their confidence intervals; reference levels (0 NOK by definition) are left out.

    Parameters
    ----------
    weight_table : DataFrame
        One row per factor level with ``factor``, ``level_code``, ``level``, ``effect_nok`` and
        ``relative_weight``, and ``ci_low``/``ci_high`` for the error bars when the estimator gave
        them; the ``age_sex`` levels are labelled "F <band>" and "M <band>".
    path : str or Path
        Where to write the PNG.

    Returns
    -------
    Path
        ``path``.
    """
    return _save(weights_figure(weight_table, title=title), path)


def weights_figure(weight_table: pd.DataFrame, *, title: str) -> Figure:
    """The tariff figure ``plot_weights`` saves."""
    cells = weight_table[weight_table["factor"] == "age_sex"].sort_values("level_code")
    supplements = weight_table[
        (weight_table["factor"] != "age_sex") & (weight_table["level_code"] > 0)
    ]
    figure = _new_figure(13, max(4.5, 0.32 * len(supplements) + 1.5))
    ages_axis, supplements_axis = figure.subplots(1, 2, width_ratios=(1.15, 1))

    sex = cells["level"].str.slice(0, 1)
    band = cells["level"].str.slice(2)
    bands = list(dict.fromkeys(band))
    for code, (colour, label) in SEX_STYLE.items():
        rows = cells[sex == code]
        x = [bands.index(b) for b in band[sex == code]]
        ages_axis.plot(x, rows["relative_weight"], marker="o", color=colour, label=label)
    ages_axis.axhline(1.0, color="grey", linewidth=0.8, linestyle="--")
    ages_axis.set_xticks(range(len(bands)), bands, rotation=60, ha="right")
    ages_axis.set_xlabel("age band (years)")
    ages_axis.set_ylabel("relative weight (population mean = 1)")
    ages_axis.set_title("Age and sex")
    ages_axis.legend(frameon=False)
    ages_axis.grid(axis="y", alpha=0.3)

    labels = [
        f"{factor}: {level}"
        for factor, level in zip(supplements["factor"], supplements["level"], strict=True)
    ]
    y = np.arange(len(supplements))[::-1]
    effect = supplements["effect_nok"].to_numpy(dtype="float64")
    error = None
    if {"ci_low", "ci_high"} <= set(supplements.columns):
        error = np.nan_to_num(
            np.vstack(
                [
                    effect - supplements["ci_low"].to_numpy(dtype="float64"),
                    supplements["ci_high"].to_numpy(dtype="float64") - effect,
                ]
            )
        )
    colours = np.where(effect >= 0, "#2e7d32", "#8e44ad")
    supplements_axis.barh(y, effect, xerr=error, color=colours, capsize=3)
    supplements_axis.axvline(0.0, color="black", linewidth=0.8)
    supplements_axis.set_yticks(y, labels)
    supplements_axis.set_xlabel("supplement, NOK per person-year (95 % CI)")
    supplements_axis.set_title("Supplements over the reference level")
    supplements_axis.grid(axis="x", alpha=0.3)
    if title:
        figure.suptitle(f"{title}: weights")
    return figure


def _ratio_limits(ratio: np.ndarray, bounds: GateBounds) -> tuple[float, float]:
    """Each panel its own scale, never narrower than the gate's bounds, so that noise does not
    look like misfit and every level's place against the bounds shows."""
    finite = ratio[np.isfinite(ratio)]
    low = min(bounds.min_ratio, float(finite.min())) if finite.size else bounds.min_ratio
    high = max(bounds.max_ratio, float(finite.max())) if finite.size else bounds.max_ratio
    return low - MARGIN, high + MARGIN


def plot_predictive_ratios(
    pr_table: pd.DataFrame,
    path: str | Path,
    *,
    bounds: GateBounds = DOCUMENTED_GATE,
    min_persons: int = 1000,
    title: str = "",
) -> Path:
    """Draw predictive ratios (predicted over actual NOK): one panel per grouping.

    Each panel shows the ratio per level against a line at 1 (exact compensation) and, shaded,
    the promotion gate's bounds (``bounds.min_ratio`` to ``bounds.max_ratio``, 0.90 to 1.10 by
    default); each panel has its own scale, at least the bounds. Levels with fewer than
    ``min_persons`` persons are drawn hollow: their ratios are noisy.

    Parameters
    ----------
    pr_table : DataFrame
        As ``training.metrics.predictive_ratios`` returns: ``group``, ``level``, ``persons`` and
        ``predictive_ratio`` at least; groups and levels are drawn in table order.
    path : str or Path
        Where to write the PNG.
    bounds : GateBounds
        The gate the ratios are judged by; the figure shades its bounds.

    Returns
    -------
    Path
        ``path``.
    """
    return _save(ratio_figure(pr_table, bounds=bounds, min_persons=min_persons, title=title), path)


def ratio_figure(
    pr_table: pd.DataFrame, *, bounds: GateBounds, min_persons: int, title: str
) -> Figure:
    """The predictive-ratio figure ``plot_predictive_ratios`` saves."""
    group_names = list(dict.fromkeys(pr_table["group"]))
    columns = 2 if len(group_names) > 1 else 1
    rows = max(1, math.ceil(len(group_names) / columns))
    figure = _new_figure(6.5 * columns, 3.4 * rows + 0.4)
    axes = np.atleast_1d(figure.subplots(rows, columns, squeeze=False)).ravel()
    for axis, name in zip(axes, group_names, strict=False):
        rows_of_group = pr_table[pr_table["group"] == name]
        x = np.arange(len(rows_of_group))
        ratio = rows_of_group["predictive_ratio"].to_numpy(dtype="float64")
        reliable = rows_of_group["persons"].to_numpy() >= min_persons
        axis.axhspan(bounds.min_ratio, bounds.max_ratio, color="#d5e8d4", zorder=0)
        axis.axhline(1.0, color="black", linewidth=0.8, zorder=1)
        axis.plot(x, ratio, color="#2e6da4", linewidth=0.8, zorder=2)
        axis.scatter(x[reliable], ratio[reliable], color="#2e6da4", zorder=3, s=22)
        axis.scatter(
            x[~reliable], ratio[~reliable], facecolors="white", edgecolors="#2e6da4", zorder=3, s=22
        )
        levels = rows_of_group["level"].astype(str).tolist()
        # Rotate labels only when they would collide: a panel is about 60 characters wide.
        rotate = sum(len(level) + 2 for level in levels) > 60
        axis.set_xticks(x, levels, rotation=60 if rotate else 0, ha="right" if rotate else "center")
        axis.set_xlim(-0.6, len(levels) - 0.4)
        axis.set_ylim(*_ratio_limits(ratio, bounds))
        axis.set_title(name)
        axis.set_ylabel("predicted / actual")
        axis.grid(axis="y", alpha=0.3)
    for axis in axes[len(group_names) :]:
        axis.set_visible(False)
    figure.suptitle(
        f"{title + ': ' if title else ''}out-of-sample predictive ratios\n"
        f"(shaded: the gate's bounds {bounds.min_ratio:g}-{bounds.max_ratio:g}; "
        f"hollow: < {min_persons:,} persons)"
    )
    return figure
