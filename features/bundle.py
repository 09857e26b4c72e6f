"""A calibrated model on disk: the weight table, the scheme and the release it was trained on.

A bundle holds the effects per indicator level, the bands and thresholds that define the
levels, and the scheme. The area tables it carries are the release it was trained on, kept as
provenance: pricing takes the release of the period being paid (``features.releases``). Every file
is listed with its SHA-256 in ``bundle.json`` and checked on load: a corrupted artifact is
refused, never half used.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from features.errors import PtbError
from features.indicators import IndicatorConfig, ReferenceTables, derive_features
from features.scheme import (
    SchemeParameters,
    Tariff,
    budget_neutral_rate,
    person_grant,
)

BUNDLE_FORMAT = 1
BUNDLE_ARTIFACT = "bundle"  # where a registered version's run keeps its bundle
MODEL_TAG = "ptb_model"  # a registered version's tag: the model it was trained as (model_2026)
# A registered version's gate results: ``ptb.gate.<stage>.passed``, ``.bounds``, ``.reason`` and
# one tag per check (``training.gate.GateResult.tags``); reload reads the promotion stage's.
GATE_TAG_PREFIX = "ptb.gate."
MANIFEST = "bundle.json"
WEIGHT_TABLE = "weight_table.csv"
GRUNNKRETSER = "grunnkretser.parquet"
KOMMUNER = "kommuner.parquet"
STEPS = "steps"


class BundleError(PtbError, ValueError):
    """A bundle on disk that is missing, incomplete or does not match its checksums."""


@dataclass(frozen=True)
class PersonScores:
    """Weights and annual grants per person, with each indicator's share of the grant in NOK."""

    weight: np.ndarray
    grant_nok: np.ndarray
    contributions: dict[str, np.ndarray]
    features: pd.DataFrame


@dataclass(frozen=True)
class ModelBundle:
    """A calibrated tariff with the scheme that turns it into money.

    ``weight_table`` has one row per factor level: ``factor``, ``level_code``, ``level``,
    ``effect_nok`` (annual NOK) and ``relative_weight`` (effect over the mean cost), plus
    standard errors and confidence bounds when the estimator gives them.
    """

    name: str
    indicators: IndicatorConfig
    scheme: SchemeParameters
    weight_table: pd.DataFrame
    mean_cost_nok: float
    reference: ReferenceTables
    rate_nok: float
    budget_nok: float
    reference_persons: int
    trained_on: str = ""
    metadata: dict = field(default_factory=dict)
    # The reform step by step (``features.reform``): each step's own calibrated bundle, shipped
    # with the 2026 model so the waterfall prices every step with that step's weights.
    steps: tuple[ModelBundle, ...] = ()

    @property
    def tariff(self) -> Tariff:
        return Tariff.from_table(self.weight_table, self.mean_cost_nok)

    def score(self, persons: pd.DataFrame, tariff: Tariff | None = None) -> PersonScores:
        """Weight and annual grant for each person (fields of ``indicators.PERSON_FIELDS``)."""
        features = derive_features(persons, self.reference, self.indicators)
        return score_features(features, tariff or self.tariff, self.scheme, self.rate_nok)

    def save(self, directory: str | Path) -> Path:
        """Write the bundle and its checksummed manifest; the manifest is written last."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.weight_table.to_csv(directory / WEIGHT_TABLE, index=False)
        gk = self.reference.grunnkrets_share
        district = self.reference.district_shares
        pd.DataFrame(
            {
                "grunnkrets": gk.index.astype(str),
                "primary_only_share": gk.to_numpy(),
                "district_share": [district[code] for code in gk.index],
            }
        ).to_parquet(directory / GRUNNKRETSER, index=False)
        kommuner = pd.DataFrame({"centrality": self.reference.kommune_centrality})
        kommuner["primary_only_share"] = self.reference.kommune_share.reindex(kommuner.index)
        kommuner.rename_axis("kommune").reset_index().to_parquet(directory / KOMMUNER, index=False)
        manifest = {
            "format": BUNDLE_FORMAT,
            "name": self.name,
            "indicators": self.indicators.model_dump(mode="json"),
            "scheme": self.scheme.model_dump(mode="json"),
            "mean_cost_nok": self.mean_cost_nok,
            "rate_nok": self.rate_nok,
            "budget_nok": self.budget_nok,
            "reference_persons": self.reference_persons,
            "trained_on": self.trained_on,
            # The release the model was trained on: provenance, not the geography it prices.
            "release": self.reference.release,
            "metadata": self.metadata,
            "steps": [
                str(step.save(directory / STEPS / f"{i:02d}").relative_to(directory))
                for i, step in enumerate(self.steps)
            ],
            "sha256": {
                name: _sha256(directory / name) for name in (WEIGHT_TABLE, GRUNNKRETSER, KOMMUNER)
            },
        }
        (directory / MANIFEST).write_text(json.dumps(manifest, indent=2))
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> ModelBundle:
        """Read a bundle, refusing it if a file is missing or differs from its checksum."""
        directory = Path(directory)
        try:
            manifest = json.loads((directory / MANIFEST).read_text())
        except (OSError, ValueError) as exc:
            raise BundleError(f"model bundle {directory}: unreadable {MANIFEST} ({exc})") from exc
        for name, expected in manifest.get("sha256", {}).items():
            path = directory / name
            if not path.exists() or _sha256(path) != expected:
                raise BundleError(f"model bundle {directory}: {name} is missing or corrupted")
        table = pd.read_csv(directory / WEIGHT_TABLE, dtype={"level": str})
        gk = pd.read_parquet(directory / GRUNNKRETSER)
        kommuner = pd.read_parquet(directory / KOMMUNER)
        gk_index = pd.Index(gk["grunnkrets"].astype("string"))
        reference = ReferenceTables(
            grunnkrets_share=pd.Series(gk["primary_only_share"].to_numpy(), index=gk_index),
            district_share=(
                pd.Series(gk["district_share"].to_numpy(), index=gk_index)
                if "district_share" in gk.columns
                else None
            ),
            kommune_share=pd.Series(
                kommuner["primary_only_share"].to_numpy(),
                index=pd.Index(kommuner["kommune"].astype("string")),
            ),
            kommune_centrality=pd.Series(
                kommuner["centrality"].to_numpy(dtype="int64"),
                index=pd.Index(kommuner["kommune"].astype("string")),
            ),
            release=str(manifest.get("release") or f"trained on {manifest['name']}"),
        )
        return cls(
            name=manifest["name"],
            indicators=IndicatorConfig(**manifest["indicators"]),
            scheme=SchemeParameters(**manifest["scheme"]),
            weight_table=table,
            mean_cost_nok=float(manifest["mean_cost_nok"]),
            reference=reference,
            rate_nok=float(manifest["rate_nok"]),
            budget_nok=float(manifest["budget_nok"]),
            reference_persons=int(manifest["reference_persons"]),
            trained_on=manifest.get("trained_on", ""),
            metadata=manifest.get("metadata", {}),
            steps=tuple(cls.load(directory / step) for step in manifest.get("steps", [])),
        )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def refugee_supplements(features: pd.DataFrame, scheme: SchemeParameters) -> np.ndarray:
    """Fixed NOK per person outside the weights: the refugee rate, where the scheme sets one."""
    if scheme.refugee_rate_nok is None or "refugee" not in features:
        return np.zeros(len(features))
    return features["refugee"].to_numpy(dtype="float64") * scheme.refugee_rate_nok


def strengthening_supplements(features: pd.DataFrame, scheme: SchemeParameters) -> np.ndarray:
    """The 2026 rule's strengthened centrality: U as fixed NOK per person of a class 5-6 list."""
    per_person = scheme.centrality_strengthening_nok
    if not per_person or "centrality" not in features:
        return np.zeros(len(features))
    by_level = np.zeros(6)
    for centrality_class, nok in per_person.items():
        by_level[int(centrality_class) - 1] = nok
    return by_level[features["centrality"].to_numpy()]


def weighted_contributions(
    features: pd.DataFrame, tariff: Tariff, scheme: SchemeParameters
) -> dict[str, np.ndarray]:
    """Each factor's share of the relative weight; with a flat share they add up to the weight.

    A fixed refugee rate replaces the estimated refugee effect, so that effect is left out.
    """
    effects = tariff.contributions(features)
    if scheme.refugee_rate_nok is not None:
        effects.pop("refugee", None)
    scale = (1.0 - scheme.dampening) / tariff.mean_cost_nok
    shares = {factor: scale * effect for factor, effect in effects.items()}
    shares["flat"] = np.full(len(features), scheme.dampening)
    return shares


def score_features(
    features: pd.DataFrame, tariff: Tariff, scheme: SchemeParameters, rate_nok: float
) -> PersonScores:
    """Weights and grants from derived features; the one pricing path for CLI, API and what-if."""
    shares = weighted_contributions(features, tariff, scheme)
    weight = np.sum(list(shares.values()), axis=0)
    refugee = refugee_supplements(features, scheme)
    strengthening = strengthening_supplements(features, scheme)
    grants = person_grant(weight, rate_nok, refugee + strengthening)
    contributions = {factor: rate_nok * share for factor, share in shares.items()}
    if scheme.refugee_rate_nok is not None:
        contributions["refugee_rate"] = refugee
    if scheme.centrality_strengthening_nok:
        contributions["centrality_strengthening"] = strengthening
    return PersonScores(weight, grants, contributions, features)


def calibrate_rate(
    features: pd.DataFrame, tariff: Tariff, scheme: SchemeParameters
) -> tuple[float, float]:
    """The budget-neutral rate over a reference population, and the budget it spends.

    The budget is the PTB budget the weights spend; the 2026 rule's strengthening money U is
    spent on top of it (``strengthening_supplements``), so the grants add up to budget + U.
    """
    weights = np.sum(list(weighted_contributions(features, tariff, scheme).values()), axis=0)
    budget = scheme.budget_for(len(features))
    rate = budget_neutral_rate(weights, budget, float(refugee_supplements(features, scheme).sum()))
    return rate, budget


def mean_expected_cost(features: pd.DataFrame, tariff_table: pd.DataFrame) -> float:
    """The reference population's mean expected cost: the NOK that a weight of 1 stands for."""
    return float(Tariff.from_table(tariff_table, 1.0).expected_cost(features).mean())


__all__ = [
    "BundleError",
    "ModelBundle",
    "PersonScores",
    "calibrate_rate",
    "mean_expected_cost",
    "score_features",
]
