"""``ptb compare A B``: what changes if version B replaced version A, and whether it is noise.

- metrics: the cross-validated fit of each;
- weights: each level's NOK with its 95 % interval; a change is flagged as beyond noise when
  the difference exceeds what the two standard errors allow at a 5 % family-wise level
  (Bonferroni over the levels compared), as for two independent years of data;
- predictive ratios of the legislated groups and the deciles, side by side;
- redistribution: every list's, kommune's and centrality class's grant under each, priced on
  one registry snapshot;
- data drift: the two training sets' profiles (``training.provenance.data_profile``).
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from scipy import stats

from features import Dataset, ModelBundle, list_grants, person_grants
from training.promote import version_bundle, version_ratios
from training.registry import Registry

METRICS = ("r2", "cpm", "mape_nok", "list_r2", "list_cpm", "list_share_pr_90_110")
FAMILY_ALPHA = 0.05
# Groups whose levels are the same for every model, so two models' ratios line up level by
# level (a model's own age and sex cells differ between band choices; 10-year groups do not).
RATIO_GROUPS = (
    "age_sex_10y", "sex", "health_status", "education", "centrality", "refugee", "predicted_decile"
)  # fmt: skip


@dataclass(frozen=True)
class ModelFacts:
    """What a comparison needs of one model: its bundle, fit, ratios and training data."""

    label: str
    bundle: ModelBundle
    metrics: dict[str, float]
    ratios: pd.DataFrame
    profile: dict | None = None


@dataclass(frozen=True)
class Comparison:
    """B against A: every table of the report."""

    a: str
    b: str
    metrics: pd.DataFrame
    weights: pd.DataFrame
    ratios: pd.DataFrame
    redistribution: dict[str, pd.DataFrame] = field(default_factory=dict)
    drift: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def flagged(self) -> pd.DataFrame:
        return self.weights[self.weights["beyond_noise"]]


def facts_of_version(registry: Registry, ref: str) -> ModelFacts:
    """A registered version's facts, read back from its runs."""
    version = registry.resolve(ref)
    run = registry.call("reading a version's run", registry.client.get_run, version.run_id)
    metrics = {
        key.removeprefix("cv_"): value
        for key, value in run.data.metrics.items()
        if key.startswith("cv_")
    }
    profile = None
    parent = run.data.tags.get("mlflow.parentRunId")
    if parent:
        try:
            with tempfile.TemporaryDirectory() as tmp:
                path = mlflow.artifacts.download_artifacts(
                    run_id=parent,
                    artifact_path="data/profile.json",
                    dst_path=tmp,
                    tracking_uri=registry.tracking_uri,
                )
                profile = json.loads(Path(path).read_text())
        except (OSError, mlflow.exceptions.MlflowException):
            profile = None  # a version trained before profiles were recorded
    return ModelFacts(
        f"version {version.version}",
        version_bundle(registry, version),
        metrics,
        version_ratios(registry, version),
        profile,
    )


def compare_metrics(a: ModelFacts, b: ModelFacts) -> pd.DataFrame:
    rows = [
        {"metric": m, "a": a.metrics.get(m, np.nan), "b": b.metrics.get(m, np.nan)} for m in METRICS
    ]
    frame = pd.DataFrame(rows)
    frame["change"] = frame["b"] - frame["a"]
    return frame


def compare_weights(a: ModelBundle, b: ModelBundle, alpha: float = FAMILY_ALPHA) -> pd.DataFrame:
    """Each level's NOK in A and B, the change, and whether it exceeds noise (see module doc)."""
    keys = ["factor", "level"]
    columns = [*keys, "effect_nok", "std_err", "persons"]
    merged = a.weight_table[columns].merge(
        b.weight_table[columns], on=keys, how="outer", suffixes=("_a", "_b")
    )
    merged["change_nok"] = merged["effect_nok_b"] - merged["effect_nok_a"]
    with np.errstate(divide="ignore", invalid="ignore"):
        merged["change_pct"] = 100 * merged["change_nok"] / merged["effect_nok_a"].abs()
        se = np.sqrt(merged["std_err_a"] ** 2 + merged["std_err_b"] ** 2)
        merged["z"] = merged["change_nok"] / se
    compared = int(merged["z"].notna().sum())
    critical = float(stats.norm.ppf(1 - alpha / (2 * max(compared, 1))))
    merged["beyond_noise"] = merged["z"].abs() > critical
    merged.attrs["critical_z"] = critical
    return merged


def compare_ratios(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    keys = ["group", "level"]
    columns = [*keys, "persons", "predictive_ratio", "ci_low", "ci_high"]
    a, b = (r.reindex(columns=columns) for r in (a, b))
    merged = a.merge(b, on=keys, how="outer", suffixes=("_a", "_b"))
    return merged[merged["group"].isin(RATIO_GROUPS)].reset_index(drop=True)


def redistribution(a: ModelBundle, b: ModelBundle, snapshot: Dataset) -> dict[str, pd.DataFrame]:
    """Every list's, kommune's and centrality class's annual grant under A and under B."""
    lists = list_grants(person_grants(a, snapshot))[["list_id", "persons", "total_nok"]]
    lists = lists.merge(
        list_grants(person_grants(b, snapshot))[["list_id", "total_nok"]],
        on="list_id",
        suffixes=("_a", "_b"),
    )
    where = snapshot.lists[["list_id", "practice_kommune"]].astype({"list_id": "string"})
    lists = lists.merge(where, on="list_id", how="left")
    centrality = snapshot.kommuner.set_index("kommune")["centrality"]
    lists["centrality"] = lists["practice_kommune"].map(centrality).astype("Int64")
    tables = {"list": lists}
    for key, column in (("kommune", "practice_kommune"), ("centrality", "centrality")):
        tables[key] = (
            lists.groupby(column, observed=True)[["persons", "total_nok_a", "total_nok_b"]]
            .sum()
            .reset_index()
        )
    for table in tables.values():
        table["change_nok"] = table["total_nok_b"] - table["total_nok_a"]
        table["change_pct"] = 100 * table["change_nok"] / table["total_nok_a"]
    return tables


def _flatten(profile: dict, prefix: str = "") -> dict[str, float]:
    flat: dict[str, float] = {}
    for key, value in profile.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}."))
        elif isinstance(value, int | float) and value is not None:
            flat[name] = float(value)
    return flat


def data_drift(a: dict | None, b: dict | None) -> pd.DataFrame:
    """Each profile figure of the two training sets, and its relative change."""
    if not a or not b:
        return pd.DataFrame(columns=["figure", "a", "b", "change_pct"])
    flat_a, flat_b = _flatten(a), _flatten(b)
    rows = [
        {"figure": k, "a": flat_a.get(k, np.nan), "b": flat_b.get(k, np.nan)}
        for k in sorted(set(flat_a) | set(flat_b))
    ]
    frame = pd.DataFrame(rows)
    with np.errstate(divide="ignore", invalid="ignore"):
        frame["change_pct"] = 100 * (frame["b"] - frame["a"]) / frame["a"].abs()
    return frame


def compare(a: ModelFacts, b: ModelFacts, snapshot: Dataset | None = None) -> Comparison:
    """B against A; the redistribution only with a snapshot to price."""
    return Comparison(
        a.label,
        b.label,
        compare_metrics(a, b),
        compare_weights(a.bundle, b.bundle),
        compare_ratios(a.ratios, b.ratios),
        redistribution(a.bundle, b.bundle, snapshot) if snapshot is not None else {},
        data_drift(a.profile, b.profile),
    )
