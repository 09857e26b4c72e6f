"""MLflow: where runs are tracked, how versions are registered, and the gate to ``champion``.

Registered model ``ptb``; aliases ``champion`` (what serving uses by default), ``challenger``
(the newest 2026-model version), ``incumbent`` (the newest model-0 version, the 2023 rule) and
``fine_bands`` (the newest finer-bands challenger, registered as evidence, never served unless
promoted explicitly with a recorded reason).
A version's source run holds the bundle under ``bundle/`` and the pyfunc under ``model``.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from features import ModelNotFoundError, PromotionRefused

REGISTERED_MODEL = "ptb"
CHAMPION, CHALLENGER, INCUMBENT = "champion", "challenger", "incumbent"
FINE_BANDS = "fine_bands"
# Models that implement a legislated rule; any other (a challenger such as the finer bands)
# becomes champion only by an explicit promotion whose reason is recorded on the version.
LEGISLATED_MODELS = ("model_2026", "model0_2023")
UNLEGISLATED_REASON_TAG = "ptb_unlegislated_promotion"
PREDICTIVE_RATIOS = "validation/predictive_ratios.csv"


@dataclass(frozen=True)
class PromotionGate:
    """Bounds every predictive ratio of a group with enough persons must keep to be promoted.

    The gate covers the groups the grant is paid on (the model's own age and sex cells, health
    status, education, centrality, refugees). Deciles of predicted cost are reported but not
    gated by default: an additive tariff under-predicts its lowest decile by construction (the
    multiplicative challengers show how much), so gating them would refuse every additive
    model. Nor are the 10-year age groups: they are the evidence that compares band choices
    (the six age groups of the legislated rules misfit some of them by design, and the rule,
    not the gate, decides the bands).
    """

    min_ratio: float = 0.90
    max_ratio: float = 1.10
    min_persons: int = 1000
    ungated_groups: tuple[str, ...] = ("predicted_decile", "age_sex_10y")


def use_tracking(tracking_uri: str, artifact_root: str = "mlruns/artifacts") -> None:
    """Point MLflow at the store; a local sqlite store gets its folder created first."""
    if tracking_uri.startswith("sqlite:///"):
        Path(tracking_uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        Path(artifact_root).mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)


def ensure_experiment(name: str, tracking_uri: str, artifact_root: str) -> str:
    """The experiment's id; a local store keeps artifacts under ``mlruns/`` beside the database."""
    client = MlflowClient(tracking_uri, registry_uri=tracking_uri)
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    location = None
    if tracking_uri.startswith("sqlite:///"):
        location = Path(artifact_root).resolve().as_uri()
    return client.create_experiment(name, artifact_location=location)


def resolve_version(client: MlflowClient, ref: str, model: str = REGISTERED_MODEL):
    """A model version by number or alias; ``ModelNotFoundError`` lists what exists."""
    ref = str(ref)
    try:
        if ref.isdigit():
            return client.get_model_version(model, ref)
        return client.get_model_version_by_alias(model, ref)
    except MlflowException as exc:
        raise ModelNotFoundError(ref, registered_versions(client, model)) from exc


def registered_versions(client: MlflowClient, model: str = REGISTERED_MODEL) -> list[str]:
    try:
        versions = client.search_model_versions(f"name='{model}'")
    except MlflowException:
        return []
    return sorted((str(v.version) for v in versions), key=int)


def gate_reasons(predictive_ratios: pd.DataFrame, gate: PromotionGate) -> list[str]:
    """Why a version may not become champion: each group whose ratio leaves the bounds."""
    gated = ~predictive_ratios["group"].isin(gate.ungated_groups)
    large = predictive_ratios[gated & (predictive_ratios["persons"] >= gate.min_persons)]
    outside = large[
        (large["predictive_ratio"] < gate.min_ratio) | (large["predictive_ratio"] > gate.max_ratio)
    ]
    return [
        f"predictive ratio {row.predictive_ratio:.3f} for {row.group}={row.level} "
        f"({row.persons} persons) outside {gate.min_ratio:g}-{gate.max_ratio:g}"
        for row in outside.itertuples()
    ]


def promote(
    tracking_uri: str,
    ref: str,
    gate: PromotionGate | None = None,
    model: str = REGISTERED_MODEL,
    *,
    unlegislated_reason: str | None = None,
) -> str:
    """Move ``champion`` to a version whose out-of-sample validation passes the gate.

    A version whose model is not a legislated rule (``LEGISLATED_MODELS``) is refused unless
    ``unlegislated_reason`` documents why it should pay; the reason is then tagged on the
    version. Raises ``PromotionRefused`` with every reason otherwise; the alias then stays.
    """
    client = MlflowClient(tracking_uri, registry_uri=tracking_uri)
    version = resolve_version(client, ref, model)
    bundle_name = (version.tags or {}).get("ptb_model", "")
    legislated = bundle_name in LEGISLATED_MODELS
    if not legislated and not (unlegislated_reason or "").strip():
        raise PromotionRefused(
            str(version.version),
            [
                f"{bundle_name or 'this model'} implements no legislated rule: promote it only "
                "explicitly, with --unlegislated-reason saying why it should pay"
            ],
        )
    local = mlflow.artifacts.download_artifacts(
        run_id=version.run_id, artifact_path=PREDICTIVE_RATIOS, tracking_uri=tracking_uri
    )
    reasons = gate_reasons(pd.read_csv(local), gate or PromotionGate())
    if reasons:
        raise PromotionRefused(str(version.version), reasons)
    if not legislated:
        client.set_model_version_tag(
            model, version.version, UNLEGISLATED_REASON_TAG, str(unlegislated_reason).strip()
        )
    client.set_registered_model_alias(model, CHAMPION, version.version)
    return str(version.version)


@dataclass(frozen=True)
class Candidate:
    """A logged model waiting for registration: its URI, source run, alias and bundle name."""

    model_uri: str
    run_id: str
    alias: str
    bundle_name: str


def register(
    tracking_uri: str, candidates: list[Candidate], model: str = REGISTERED_MODEL
) -> dict[str, str]:
    """Register each candidate and point its alias at it, all or nothing.

    The first version ever registered also becomes champion. If anything fails, the versions
    created here are deleted and the aliases put back, so the registry is left as it was.
    """
    client = MlflowClient(tracking_uri, registry_uri=tracking_uri)
    first_ever = not registered_versions(client, model)
    aliases = {c.alias for c in candidates} | {CHAMPION}
    before = {alias: _alias_version(client, model, alias) for alias in aliases}
    created: dict[str, str] = {}
    try:
        for candidate in candidates:
            version = mlflow.register_model(
                candidate.model_uri,
                model,
                tags={"ptb_model": candidate.bundle_name, "run_id": candidate.run_id},
            )
            created[candidate.alias] = str(version.version)
        for alias, number in created.items():
            client.set_registered_model_alias(model, alias, number)
        if first_ever and CHALLENGER in created:
            client.set_registered_model_alias(model, CHAMPION, created[CHALLENGER])
    except BaseException:
        _roll_back(client, model, created, before)
        raise
    return created


def _alias_version(client: MlflowClient, model: str, alias: str) -> str | None:
    try:
        return str(client.get_model_version_by_alias(model, alias).version)
    except MlflowException:
        return None


def _roll_back(
    client: MlflowClient, model: str, created: dict[str, str], before: dict[str, str | None]
) -> None:
    """Best effort: delete what was created and restore the aliases that were moved."""
    for number in created.values():
        with contextlib.suppress(MlflowException):
            client.delete_model_version(model, number)
    for alias, number in before.items():
        if number is not None:
            with contextlib.suppress(MlflowException):
                client.set_registered_model_alias(model, alias, number)
