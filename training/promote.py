"""``ptb promote``: move ``champion`` to a version that passes the gate, and record why.

The gate runs on the version's own bundle and out-of-sample validation, against the current
champion's data size and the current registry snapshot. Its result is written on the version
(tags, and ``gate/`` report artifacts in its run) whether it passes or not; a pass moves the
alias and records the move on both versions (``training.decisions``).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

import mlflow
import pandas as pd
from mlflow.entities.model_registry import ModelVersion

from features import MODEL_TAG, Dataset, ModelBundle, PromotionRefused, is_legislated
from features.pyfunc import BUNDLE_ARTIFACT
from training.decisions import AliasMove, Undo, move_alias, undo_all
from training.gate import GateBounds, GateResult, evaluate
from training.registry import (
    CHAMPION,
    PREDICTIVE_RATIOS,
    REGISTERED_MODEL,
    UNLEGISLATED_REASON_TAG,
    Registry,
)

T = TypeVar("T")


@dataclass(frozen=True)
class Promotion:
    """A completed promotion: the version, the recorded move and the gate it passed."""

    version: str
    move: AliasMove
    gate: GateResult


def read_artifact(
    registry: Registry, version: ModelVersion, path: str, read: Callable[[str], T]
) -> T:
    """Download one artifact of a version's run and read it before the copy is removed."""
    with tempfile.TemporaryDirectory() as tmp, registry.calls(f"reading version {version.version}"):
        local = mlflow.artifacts.download_artifacts(
            run_id=version.run_id,
            artifact_path=path,
            dst_path=tmp,
            tracking_uri=registry.tracking_uri,
        )
        return read(local)


def version_bundle(registry: Registry, version: ModelVersion) -> ModelBundle:
    """The bundle a version was registered with, checked against its checksums."""
    return read_artifact(registry, version, BUNDLE_ARTIFACT, ModelBundle.load)


def version_ratios(registry: Registry, version: ModelVersion) -> pd.DataFrame:
    """The version's out-of-sample predictive ratios, as training logged them."""
    return read_artifact(
        registry, version, PREDICTIVE_RATIOS, lambda p: pd.read_csv(p, dtype={"level": str})
    )


def champion_persons(registry: Registry) -> tuple[str | None, int | None]:
    """The champion's version and the persons it was trained on (None, None without one)."""
    number = registry.alias_version(CHAMPION)
    if number is None:
        return None, None
    champion = registry.resolve(number)
    run = registry.call("reading the champion's run", registry.client.get_run, champion.run_id)
    persons = run.data.params.get("reference_persons")
    return number, int(persons) if persons is not None else None


def record_gate(registry: Registry, version: ModelVersion, result: GateResult) -> None:
    """Write the gate's result on the version (tags) and in its run (``gate/`` reports)."""
    client = registry.client
    for key, value in result.tags().items():
        registry.call(
            f"recording the gate on version {version.version}",
            client.set_model_version_tag,
            registry.model,
            version.version,
            key,
            value,
        )
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    with registry.calls(f"logging the gate report of version {version.version}"):
        client.log_text(
            str(version.run_id),
            json.dumps(result.report(), indent=2),
            f"gate/{result.stage}-{stamp}.json",
        )
        client.log_text(str(version.run_id), result.markdown(), f"gate/{result.stage}-{stamp}.md")


def promote(
    tracking_uri: str,
    ref: str,
    *,
    bounds: GateBounds | None = None,
    reason: str | None = None,
    snapshot: Dataset | None = None,
    model: str = REGISTERED_MODEL,
    unlegislated_reason: str | None = None,
) -> Promotion:
    """Move ``champion`` to ``ref`` if it passes the gate; ``PromotionRefused`` lists why not.

    Bounds looser than the defaults are refused without a ``reason``. A version whose model
    implements no legislated rule (a challenger such as the finer bands) is refused without an
    ``unlegislated_reason``, which is then recorded on the version. The alias stays where it
    was on any refusal or failure.
    """
    bounds = bounds or GateBounds()
    registry = Registry(tracking_uri, model)
    version = registry.resolve(ref)
    number = str(version.version)
    if bounds.loosened() and not (reason and reason.strip()):
        raise PromotionRefused(
            number, [f"bounds loosened without --reason: {'; '.join(bounds.loosened())}"]
        )
    model_name = (version.tags or {}).get(MODEL_TAG, "")
    unlegislated = (unlegislated_reason or "").strip()
    if not is_legislated(model_name) and not unlegislated:
        raise PromotionRefused(
            number,
            [
                f"{model_name or 'this model'} implements no legislated rule: promote it only "
                "explicitly, with --unlegislated-reason saying why it should pay"
            ],
        )
    current, persons = champion_persons(registry)
    result = evaluate(
        number,
        version_bundle(registry, version),
        predictive_ratios=version_ratios(registry, version),
        champion_persons=persons if current != number else None,
        snapshot=snapshot,
        bounds=bounds,
        reason=(reason or "").strip(),
    )
    record_gate(registry, version, result)
    if not result.passed:
        raise PromotionRefused(number, result.failures())
    move = AliasMove(
        alias=CHAMPION,
        to_version=number,
        from_version=current,
        gate=result.summary(),
        reason=result.reason or "passed the default gate",
        bounds=bounds.as_dict(),
    )
    undo: list[Undo] = []
    try:
        if not is_legislated(model_name):
            registry.call(
                f"recording why version {number} pays",
                registry.client.set_model_version_tag,
                registry.model,
                number,
                UNLEGISLATED_REASON_TAG,
                unlegislated,
            )
        move_alias(registry, move, undo)
    except BaseException:
        undo_all(undo)
        raise
    return Promotion(number, move, result)
