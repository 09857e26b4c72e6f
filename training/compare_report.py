"""A comparison as text (terminal, Markdown) and as one HTML file with its charts inline."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - after choosing the non-interactive backend
import pandas as pd  # noqa: E402

from training.compare import Comparison  # noqa: E402

# A list, kommune or class whose grant changes by more than this share is counted as moved.
MOVED_PCT = 5.0
# The kommuner named in the terminal: those with the largest changes, either way.
KOMMUNE_MOVERS = 5
NO_SNAPSHOT = (
    "  redistribution: NOT computed: no registry snapshot given; pass --snapshot DIR "
    "(or set PTB_DATA_DIR) to price every list, kommune and centrality class on it"
)


def _interval(row: Any, column: str, version: str, digits: int) -> str:
    """A row's figure of one version with its 95 % interval: ``1,868 [1,652, 2,084]``."""
    value, low, high = (getattr(row, f"{name}_{version}") for name in (column, "ci_low", "ci_high"))
    return f"{value:,.{digits}f} [{low:,.{digits}f}, {high:,.{digits}f}]"


def weight_lines(weights: pd.DataFrame) -> list[str]:
    """Every compared level's NOK in A and B with 95 % intervals; changes beyond noise marked."""
    critical = weights.attrs.get("critical_z", float("nan"))
    compared = weights[weights["z"].notna()]
    lines = [
        f"  weights (NOK a year, 95 % interval), A -> B: {int(compared['beyond_noise'].sum())} "
        f"of {len(compared)} levels changed beyond noise (|z| > {critical:.2f}, 5 % family-wise)"
    ]
    for row in compared.itertuples():
        lines.append(
            f"    {row.factor}={row.level}: "
            f"{_interval(row, 'effect_nok', 'a', 0)} -> {_interval(row, 'effect_nok', 'b', 0)} "
            f"({row.change_pct:+.1f} %, z {row.z:+.1f})"
            + ("  <- beyond noise" if row.beyond_noise else "")
        )
    return lines


def ratio_lines(ratios: pd.DataFrame) -> list[str]:
    """Every group level's predictive ratio in A and B with 95 % intervals, flags marked."""
    low, high = ratios.attrs.get("bounds", (0.9, 1.1))
    flagged = ratios["outside_b"] | ratios["beyond_noise"]
    lines = [
        f"  predictive ratios (predicted / actual, out of sample, 95 % interval), A -> B: "
        f"{int(flagged.sum())} of {len(ratios)} levels flagged (B outside {low:g}-{high:g}, "
        "or changed beyond noise)"
    ]
    for row in ratios.itertuples():
        flags = [f"B outside {low:g}-{high:g}"] if row.outside_b else []
        flags += ["changed beyond noise"] if row.beyond_noise else []
        lines.append(
            f"    {row.group}={row.level}: "
            f"{_interval(row, 'predictive_ratio', 'a', 3)} -> "
            f"{_interval(row, 'predictive_ratio', 'b', 3)}"
            + (f"  <- {', '.join(flags)}" if flags else "")
        )
    return lines


def _moved(table: pd.DataFrame, what: str) -> str:
    gain = int((table["change_pct"] > MOVED_PCT).sum())
    lose = int((table["change_pct"] < -MOVED_PCT).sum())
    return (
        f"  {what}: {gain} gain and {lose} lose more than {MOVED_PCT:g} % of {len(table)}; "
        f"largest gain {table['change_pct'].max():+.1f} %, loss {table['change_pct'].min():+.1f} %"
    )


def _grant_change(name: str, row) -> str:
    return (
        f"    {name}: {row.total_nok_a:,.0f} -> {row.total_nok_b:,.0f} NOK "
        f"({row.change_nok:+,.0f} NOK, {row.change_pct:+.2f} %; {row.persons:,} persons)"
    )


def redistribution_lines(comparison: Comparison) -> list[str]:
    """Lists, the kommuner that move most, every centrality class and the totals; or a plain
    statement that nothing was priced."""
    tables = comparison.redistribution
    if "list" not in tables:
        return [NO_SNAPSHOT]
    lists, kommuner = tables["list"], tables["kommune"]
    total_a, total_b = lists["total_nok_a"].sum(), lists["total_nok_b"].sum()
    lines = [
        f"  redistribution if {comparison.b} replaced {comparison.a}, both priced as paid on the "
        f"snapshot (release {comparison.priced_on}, at the period's rate):",
        f"    total {total_a:,.0f} -> {total_b:,.0f} NOK a year "
        f"({100 * (total_b - total_a) / total_a:+.2f} %)",
        _moved(lists, "lists"),
        _moved(kommuner, "kommuner"),
    ]
    movers = kommuner.reindex(kommuner["change_pct"].abs().sort_values(ascending=False).index)
    for row in movers.head(KOMMUNE_MOVERS).itertuples():
        lines.append(_grant_change(f"kommune {row.practice_kommune}", row))
    lines.append("  centrality classes:")
    for row in tables["centrality"].itertuples():
        lines.append(_grant_change(f"class {row.centrality}", row))
    return lines


def summary_lines(comparison: Comparison) -> list[str]:
    """The report as text: fit, weights and ratios with intervals, redistribution, drift."""
    c = comparison
    lines = [f"{c.b} against {c.a}"]
    for row in c.metrics.itertuples():
        lines.append(f"  {row.metric}: {row.a:.4f} -> {row.b:.4f} ({row.change:+.4f})")
    lines += weight_lines(c.weights)
    lines += ratio_lines(c.ratios)
    lines += redistribution_lines(c)
    if not c.drift.empty:
        moved = c.drift[c.drift["change_pct"].abs() > MOVED_PCT]
        lines.append(
            f"  data drift: {len(moved)} profile figures moved by more than {MOVED_PCT:g} %"
        )
        for row in moved.itertuples():
            lines.append(
                f"    {row.figure}: {row.a:,.4g} -> {row.b:,.4g} ({row.change_pct:+.1f} %)"
            )
    return lines


def _png(figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode()


def weights_chart(comparison: Comparison) -> str:
    weights = comparison.weights.dropna(subset=["z"]).reset_index(drop=True)
    figure, axis = plt.subplots(figsize=(8, max(4, 0.22 * len(weights))))
    y = range(len(weights))
    se = (weights["std_err_a"] ** 2 + weights["std_err_b"] ** 2) ** 0.5
    colors = ["tab:red" if flag else "tab:blue" for flag in weights["beyond_noise"]]
    axis.errorbar(
        weights["change_nok"], y, xerr=1.96 * se, fmt="none", ecolor="lightgray", zorder=1
    )
    axis.scatter(weights["change_nok"], y, c=colors, s=14, zorder=2)
    axis.axvline(0, color="black", linewidth=0.8)
    axis.set_yticks(
        list(y), [f"{f}={lvl}" for f, lvl in zip(weights.factor, weights.level, strict=True)]
    )
    axis.tick_params(axis="y", labelsize=6)
    axis.set_xlabel("change in NOK a year (B - A), with 95 % interval; red: beyond noise")
    axis.set_title(f"Weights: {comparison.b} against {comparison.a}")
    return _png(figure)


def ratios_chart(comparison: Comparison) -> str:
    ratios = comparison.ratios.reset_index(drop=True)
    figure, axis = plt.subplots(figsize=(8, max(4, 0.2 * len(ratios))))
    y = list(range(len(ratios)))
    axis.scatter(ratios["predictive_ratio_a"], y, s=12, label=comparison.a)
    axis.scatter(ratios["predictive_ratio_b"], y, s=12, marker="x", label=comparison.b)
    for bound in (0.9, 1.0, 1.1):
        axis.axvline(bound, color="gray", linewidth=0.6, linestyle=":" if bound != 1 else "-")
    axis.set_yticks(y, [f"{g}={lvl}" for g, lvl in zip(ratios.group, ratios.level, strict=True)])
    axis.tick_params(axis="y", labelsize=6)
    axis.set_xlabel("out-of-sample predictive ratio (predicted / actual)")
    axis.set_title(f"Predictive ratios: {comparison.b} against {comparison.a}")
    axis.legend(fontsize=7)
    return _png(figure)


def lists_chart(comparison: Comparison) -> str:
    lists = comparison.redistribution["list"]
    figure, axis = plt.subplots(figsize=(7, 3.5))
    axis.hist(lists["change_pct"].dropna(), bins=40, color="tab:blue")
    axis.set_xlabel("change in the list's annual grant, %")
    axis.set_ylabel("lists")
    axis.set_title(f"Redistribution per list if {comparison.b} replaced {comparison.a}")
    return _png(figure)


def _table(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, float_format=lambda v: f"{v:,.4g}", border=0)


def write_html(comparison: Comparison, path: str | Path) -> Path:
    """The report: summary, charts and every table, in one self-contained HTML file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    c = comparison
    images = [weights_chart(c), ratios_chart(c)]
    if "list" in c.redistribution:
        images.append(lists_chart(c))
    sections = [
        f"<h1>{html.escape(c.b)} against {html.escape(c.a)}</h1>",
        "<pre>" + html.escape("\n".join(summary_lines(c))) + "</pre>",
        *(f'<img alt="chart" src="data:image/png;base64,{image}">' for image in images),
        "<h2>Metrics (cross-validated)</h2>",
        _table(c.metrics),
        "<h2>Weights</h2>",
        _table(c.weights),
        "<h2>Predictive ratios</h2>",
        _table(c.ratios),
    ]
    for key, table in c.redistribution.items():
        sections += [f"<h2>Redistribution per {key}</h2>", _table(table)]
    if not c.drift.empty:
        sections += ["<h2>Data drift</h2>", _table(c.drift)]
    style = "body{font-family:sans-serif;margin:2em}table{font-size:12px}td,th{padding:2px 8px}"
    document = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>ptb compare</title>"
        f"<style>{style}</style></head><body>{''.join(sections)}</body></html>"
    )
    path.write_text(document)
    return path
