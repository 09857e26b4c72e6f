"""A model card per version, and the comparison with the champion, logged with every training.

The card says what the model is, what data it was trained on, the gate's result, how it
compares with the champion, its known limits and the command that reproduces it. It is written
into the model's run (``model_card.md``) beside ``compare/`` (the report against the champion,
HTML with charts, and its summary as text), so it travels with the registered version. The
version number is known only once registration has created it: ``log_card_version`` then
names it in the card's title.
"""

from __future__ import annotations

import shlex
import tempfile
from pathlib import Path

import mlflow
import pandas as pd

from features import MODEL_TAG, Dataset
from training.compare import ModelFacts, compare
from training.compare_report import summary_lines, write_html
from training.fit import Calibration
from training.gate import GateResult
from training.promote import read_artifact
from training.registry import Registry
from training.validation import ValidationReport

CARD = "model_card.md"
# Options of ``ptb train`` whose value is a directory: written absolute in the card, so the
# command reproduces the model from anywhere.
PATH_OPTIONS = ("--data", "--snapshot")
GATE_STAGES = {
    "training": (
        "the training-time gate: the data checks that decide whether this training may take "
        "`challenger`, and the predictive ratios. It is not the promotion gate, which "
        "`ptb promote` runs again (on the registry snapshot) before the version may pay anyone."
    ),
    "promotion": "the promotion gate `ptb promote` ran before the version could pay anyone.",
}


def card_title(bundle_name: str, version: str | int | None = None) -> str:
    """The card's first line; it names the registered version once there is one."""
    if version is None:
        return f"# Model card: {bundle_name} (not registered yet)"
    return f"# Model card: ptb version {version} ({bundle_name})"


def reproducible_command(command: str) -> str:
    """The command with its data and snapshot directories absolute (resolved where it ran)."""
    words = shlex.split(command)
    for i, word in enumerate(words):
        option, equals, value = word.partition("=")
        if option not in PATH_OPTIONS:
            continue
        if equals:
            words[i] = f"{option}={Path(value).expanduser().resolve()}"
        elif i + 1 < len(words):
            words[i + 1] = str(Path(words[i + 1]).expanduser().resolve())
    return shlex.join(words)


def decile_limits(ratios: pd.DataFrame) -> list[str]:
    """How the lowest and highest deciles of predicted cost are paid relative to their cost.

    A predictive ratio is predicted / actual cost: below 1 the decile is underpaid, above 1
    overpaid, by ``|ratio - 1|`` of its cost.
    """
    deciles = ratios[ratios["group"] == "predicted_decile"]
    rank = deciles["level"].astype(str).str.extract(r"(\d+)", expand=False).astype(float)
    deciles = deciles.assign(rank=rank).dropna(subset=["rank", "predictive_ratio"])
    if deciles.empty:
        return []
    deciles = deciles.sort_values("rank")
    limits = []
    ends = {"lowest": "healthiest", "highest": "costliest"}
    for (end, tenth), row in zip(ends.items(), (deciles.iloc[0], deciles.iloc[-1]), strict=True):
        ratio = float(row["predictive_ratio"])
        side = "underpays" if ratio < 1 else "overpays"
        limits.append(
            f"The {end} decile of predicted cost ({row['level']}) is paid {ratio:.2f} of its "
            f"cost (out of sample): the tariff {side} the {tenth} tenth by "
            f"{abs(ratio - 1):.0%} of its cost; the deciles are not gated."
        )
    return limits if len(deciles) > 1 else limits[:1]


def known_limits(report: ValidationReport, gate: GateResult) -> list[str]:
    """What a reader must know before relying on the model."""
    limits = decile_limits(report.predictive_ratios)
    limits.append(
        "Weights are additive NOK amounts estimated by least squares; persons with extreme "
        "costs widen their intervals (HC1 standard errors in tariff/coefficients.txt)."
    )
    for check in gate.checks:
        if not check.passed:
            limits.append(f"Gate check {check.name} failed at {gate.stage}: {check.detail}")
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
    version: str | int | None = None,
) -> str:
    """The card as Markdown; ``version`` is the registered version's number, when known."""
    bundle = calibration.bundle
    metrics = report.metrics
    lines = [
        card_title(bundle.name, version),
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
        f"## Gate at {gate.stage}: {'PASSED' if gate.passed else 'FAILED'}",
        "",
        f"This is {GATE_STAGES.get(gate.stage, f'the {gate.stage} gate.')}",
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
        reproducible_command(command),
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
    version: str | int | None = None,
) -> list[str]:
    """Compare with the champion (priced on ``prices`` as the gate prices a snapshot), log
    both reports and the card (titled with ``version`` when it is known)."""
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
    card = model_card(calibration, report, gate, description, profile, command, summary, version)
    mlflow.log_text(card, CARD)
    return summary


def log_card_version(registry: Registry, version: str) -> str:
    """Name a registered version in the title of the card its run holds; the new card.

    The card is logged while the model trains, before registration gives it a number.
    """
    found = registry.resolve(version)
    card = read_artifact(registry, found, CARD, lambda path: Path(path).read_text())
    body = card.split("\n", 1)[1] if "\n" in card else ""
    titled = f"{card_title(found.tags.get(MODEL_TAG, '?'), found.version)}\n{body}"
    registry.call(
        f"naming version {found.version} on its model card",
        registry.client.log_text,
        found.run_id,
        titled,
        CARD,
    )
    return titled
