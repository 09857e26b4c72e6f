"""``ptb compare A B``: what changes if version B replaced version A, and whether it is noise.

- metrics: the cross-validated fit of each;
- weights: each level's NOK with its 95 % interval; a change is flagged as beyond noise when
  the difference exceeds what the two standard errors allow at a 5 % family-wise level
  (Bonferroni over the levels compared), as for two independent years of data;
- predictive ratios of the legislated groups and the deciles, side by side, flagged where B's
  interval lies wholly outside the gate's bounds or the two differ beyond noise (as the weights);
- redistribution: every list's, kommune's and centrality class's grant under each, priced as
  payment prices them: on one registry snapshot, with the snapshot's release (education shares,
  centrality) and the period's budget-neutral rate (``features.grants.period_scorer``, the path
  of the gate's ``snapshot_pricing`` and the service), never with a version's training release;
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

from features import Dataset, ModelBundle, Release, list_grants, period_scorer, person_grants
from training.gate import GateBounds
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
    priced_on: str = ""  # the release the redistribution was priced with; "" when not priced

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


def _flag_beyond_noise(merged: pd.DataFrame, value: str, alpha: float) -> pd.DataFrame:
    """Add ``z`` and ``beyond_noise`` for B - A of ``value``, Bonferroni over the rows compared.

    ``z = (b - a) / sqrt(se_a² + se_b²)``, the two estimates taken as independent samples.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.sqrt(merged["std_err_a"] ** 2 + merged["std_err_b"] ** 2)
        merged["z"] = (merged[f"{value}_b"] - merged[f"{value}_a"]) / se
    compared = int(merged["z"].notna().sum())
    critical = float(stats.norm.ppf(1 - alpha / (2 * max(compared, 1))))
    merged["beyond_noise"] = merged["z"].abs() > critical
    merged.attrs["critical_z"] = critical
    return merged


def compare_weights(a: ModelBundle, b: ModelBundle, alpha: float = FAMILY_ALPHA) -> pd.DataFrame:
    """Each level's NOK in A and B with its 95 % interval, the change, and whether it exceeds
    noise (see module doc)."""
    keys = ["factor", "level"]
    columns = [*keys, "effect_nok", "ci_low", "ci_high", "std_err", "persons"]
    merged = a.weight_table.reindex(columns=columns).merge(
        b.weight_table.reindex(columns=columns), on=keys, how="outer", suffixes=("_a", "_b")
    )
    merged["change_nok"] = merged["effect_nok_b"] - merged["effect_nok_a"]
    with np.errstate(divide="ignore", invalid="ignore"):
        merged["change_pct"] = 100 * merged["change_nok"] / merged["effect_nok_a"].abs()
    return _flag_beyond_noise(merged, "effect_nok", alpha)


def compare_ratios(
    a: pd.DataFrame,
    b: pd.DataFrame,
    bounds: GateBounds | None = None,
    alpha: float = FAMILY_ALPHA,
) -> pd.DataFrame:
    """Each group level's predictive ratio (predicted / actual) in A and B with its interval.

    ``outside_b``: B's whole 95 % interval lies outside the gate's bounds (as the gate fails a
    level; default the gate's bounds); ``beyond_noise``: the two ratios differ beyond noise
    (see ``_flag_beyond_noise``).
    """
    bounds = bounds or GateBounds()
    keys = ["group", "level"]
    columns = [*keys, "persons", "predictive_ratio", "ci_low", "ci_high", "std_err"]
    a, b = (r.reindex(columns=columns) for r in (a, b))
    merged = a.merge(b, on=keys, how="outer", suffixes=("_a", "_b"))
    merged = merged[merged["group"].isin(RATIO_GROUPS)].reset_index(drop=True)
    merged["outside_b"] = (merged["ci_high_b"] < bounds.min_ratio) | (
        merged["ci_low_b"] > bounds.max_ratio
    )
    merged.attrs["bounds"] = (bounds.min_ratio, bounds.max_ratio)
    return _flag_beyond_noise(merged, "predictive_ratio", alpha)


def paid_list_grants(bundle: ModelBundle, snapshot: Dataset, release: Release) -> pd.DataFrame:
    """Every list's annual grant as payment would price it: the snapshot's release, the
    period's budget-neutral rate (the gate's ``snapshot_pricing`` and the service's path)."""
    scorer = period_scorer(bundle, snapshot, release)
    return list_grants(person_grants(bundle, snapshot, scorer=scorer))


def redistribution(
    a: ModelBundle, b: ModelBundle, snapshot: Dataset, release: Release
) -> dict[str, pd.DataFrame]:
    """Every list's, kommune's and centrality class's annual grant under A and under B.

    Both are priced on ``snapshot`` with its ``release``, so the change is what B would pay
    differently, not a difference of the two training releases.
    """
    lists = paid_list_grants(a, snapshot, release)[["list_id", "persons", "total_nok"]]
    lists = lists.merge(
        paid_list_grants(b, snapshot, release)[["list_id", "total_nok"]],
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


def compare(
    a: ModelFacts,
    b: ModelFacts,
    snapshot: Dataset | None = None,
    release: Release | None = None,
) -> Comparison:
    """B against A; the redistribution only with a snapshot to price.

    ``release``: the snapshot's release as ``load_with_release`` reads it (with the period's
    average grant); default its own tables, as the gate's ``snapshot_pricing`` takes them.
    """
    priced: dict[str, pd.DataFrame] = {}
    priced_on = ""
    if snapshot is not None:
        release = release or Release.from_dataset(snapshot, "registry snapshot")
        priced = redistribution(a.bundle, b.bundle, snapshot, release)
        priced_on = f"{release.name}, period {release.period}"
    return Comparison(
        a.label,
        b.label,
        compare_metrics(a, b),
        compare_weights(a.bundle, b.bundle),
        compare_ratios(a.ratios, b.ratios),
        priced,
        data_drift(a.profile, b.profile),
        priced_on,
    )
