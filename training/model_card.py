"""A model card per version, and the comparison with the champion, logged with every training.

The card says what the model is, what data it was trained on, the gate's result, how it
compares with the champion, its known limits and the command that reproduces it. It is written
into the model's run (``model_card.md``) beside ``compare/`` (the report against the champion,
HTML with charts, and its summary as text), so it travels with the registered version.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import mlflow

from features import Dataset
from training.compare import ModelFacts, compare
from training.compare_report import summary_lines, write_html
from training.fit import Calibration
from training.gate import GateResult
from training.validation import ValidationReport


def known_limits(report: ValidationReport, gate: GateResult) -> list[str]:
    """What a reader must know before relying on the model."""
    ratios = report.predictive_ratios.set_index(["group", "level"])["predictive_ratio"]
    limits = []
    if ("predicted_decile", "D1") in ratios.index:
        limits.append(
            f"The lowest decile of predicted cost is paid {ratios[('predicted_decile', 'D1')]:.2f} "
            "of its cost (out of sample): an additive tariff overpays the healthiest tenth and "
            "the deciles are not gated."
        )
    limits.append(
        "Weights are additive NOK amounts estimated by least squares; persons with extreme "
        "costs widen their intervals (HC1 standard errors in tariff/coefficients.txt)."
    )
    for check in gate.checks:
        if not check.passed:
            limits.append(f"Gate check {check.name} failed at training: {check.detail}")
    limits += [f"{note}." for note in gate.notes]
    return limits


def model_card(
    calibration: Calibration,
    report: ValidationReport,
    gate: GateResult,
    description: str,
    profile: dict,
    command: str,
    comparison_summary: list[str],
) -> str:
    bundle = calibration.bundle
    metrics = report.metrics
    lines = [
        f"# Model card: {bundle.name}",
        "",
        description,
        "",
        "## What it is",
        f"- Additive tariff of annual GP cost on {', '.join(bundle.indicators.model_dump())}"
        " indicators, turned into relative weights and a budget-neutral rate.",
        f"- Rate {bundle.rate_nok:,.2f} NOK a year per unit weight; budget "
        f"{bundle.budget_nok:,.0f} NOK; mean expected cost {bundle.mean_cost_nok:,.0f} NOK.",
        f"- Cross-validated R² {metrics['r2']:.3f}, CPM {metrics['cpm']:.3f}, list-level R² "
        f"{metrics['list_r2']:.3f}.",
        "",
        "## Data",
        f"- {profile['rows']['persons']:,} persons on {profile['rows']['lists']:,} lists in "
        f"{profile['kommuner']} kommuner and {profile['grunnkretser']:,} grunnkretser "
        f"(fingerprint {bundle.trained_on[:16]}).",
        f"- Mean cost {profile['mean_cost_nok']:,.0f} NOK; refugees in their first year "
        f"{profile['refugee_share']:.2%}; no copayment last year "
        f"{profile['copayment']['share_zero']:.1%}.",
        f"- Age mix: {', '.join(f'{k} {v:.1%}' for k, v in profile['age_mix'].items())}.",
        "",
        "## Gate",
        gate.markdown().split("\n", 1)[1],
        "## Comparison with the champion",
        "```",
        *(comparison_summary or ["no champion to compare with"]),
        "```",
        "",
        "## Known limits",
        *(f"- {limit}" for limit in known_limits(report, gate)),
        "",
        "## Reproduce",
        "```",
        command,
        "```",
        "with the same data (fingerprint above) and code (tag `ptb.source` of the run).",
    ]
    return "\n".join(lines) + "\n"


def log_card_and_comparison(
    calibration: Calibration,
    report: ValidationReport,
    gate: GateResult,
    description: str,
    profile: dict,
    command: str,
    champion: ModelFacts | None,
    prices: Dataset,
) -> list[str]:
    """Compare with the champion (priced on ``prices``), log both reports and the card."""
    summary: list[str] = []
    if champion is not None:
        candidate = ModelFacts(
            f"{calibration.bundle.name} (this training)",
            calibration.bundle,
            report.metrics,
            report.predictive_ratios,
            profile,
        )
        comparison = compare(champion, candidate, prices)
        summary = summary_lines(comparison)
        with tempfile.TemporaryDirectory() as tmp:
            name = champion.label.replace(" ", "_")
            write_html(comparison, Path(tmp) / f"against_champion_{name}.html")
            (Path(tmp) / f"against_champion_{name}.txt").write_text("\n".join(summary) + "\n")
            comparison.weights.to_csv(Path(tmp) / "weights.csv", index=False)
            mlflow.log_artifacts(tmp, "compare")
    card = model_card(calibration, report, gate, description, profile, command, summary)
    mlflow.log_text(card, "model_card.md")
    return summary
