"""Switch the serving model without downtime: load beside, check, then switch in one step.

``reload_model(state, "champion")`` resolves the reference afresh in the registry, loads that
version next to the one serving (``ModelStore`` keeps both), and runs its checks:

- ``checksums``: every bundle file matches the SHA-256 in its manifest (checked as the bundle is
  read; a cached copy on disk is read and checked again);
- ``promotion_gate``: the version carries a passed promotion gate (``ptb promote``, or the
  first training's crowning), read afresh from the registry: an alias moved by hand to a
  version the gate never passed is refused;
- ``smoke_score``: a few persons get finite, positive weights and finite, non-negative grants;
- ``snapshot_grants``: with a registry snapshot loaded, every list's grant computes and is finite;
- ``level_support``: with a snapshot, no person of it is paid from a factor level estimated
  from fewer persons than the promotion gate's minimum (``features.gate.level_support``, the
  gate's own check, under the bounds recorded with the promotion; never fewer than one).

Only then does ``ServingState.switch`` make it the default. A version that fails to load or a
check raises ``ReloadRefused`` (or the store's own error) and the old model keeps serving.
``ModelWatch`` re-resolves the serving alias every few seconds and reloads when it moved.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from dataclasses import dataclass

import numpy as np

from features import (
    GATE_TAG_PREFIX,
    MIN_LEVEL_PERSONS,
    BundleError,
    PtbError,
    ReloadInProgressError,
    ReloadRefused,
    level_support,
)
from features.grants import PersonColumns
from serving.loaded_model import LoadedModel
from serving.model_store import normalise_ref
from serving.state import ServingState, aliased

logger = logging.getLogger(__name__)

SMOKE_PERSONS = 5


@dataclass(frozen=True)
class Check:
    """One check a model version passed or failed before serving, and what it found."""

    name: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class ReloadOutcome:
    """What a reload did: the model serving before and after, and the checks it passed."""

    requested: str
    previous: LoadedModel | None
    current: LoadedModel
    switched: bool
    checks: tuple[Check, ...]
    seconds: float
    workers: tuple[dict, ...] = ()  # each worker's state after the switch


def load_checked(
    state: ServingState, requested: str, *, refresh: bool = True
) -> tuple[LoadedModel, list[Check]]:
    """Load ``requested`` beside the serving model, check it and warm it; nothing switches.

    Raises ``ReloadRefused`` naming the failed checks (or the store's own error).
    """
    try:
        model = state.store.get(requested, refresh=refresh)
    except BundleError as exc:
        check = Check("checksums", False, str(exc))
        raise ReloadRefused(requested, str(exc), [check]) from exc
    checks = run_checks(state, model)
    failed = [check for check in checks if not check.passed]
    if failed:
        reason = "; ".join(f"{check.name}: {check.detail}" for check in failed)
        raise ReloadRefused(requested, f"version {model.version} failed {reason}", checks)
    for warm in state.warmers:
        warm(model)
    return model, checks


def prepare_model(state: ServingState, version: str, ref: str) -> LoadedModel:
    """Another worker's part in an instance switch: the same version, loaded and checked here."""
    model, _ = load_checked(state, version, refresh=False)
    return aliased(model, ref)


def reload_model(state: ServingState, ref: str | None = None) -> ReloadOutcome:
    """Resolve ``ref`` (default: the configured serving alias) afresh, check it, switch to it.

    With several workers (``state.instance``), every worker loads and checks the version before
    the instance switches, all at once (``serving.instance``).

    Blocking (a download, the snapshot's grants): call it from a worker thread. Raises
    ``ModelNotFoundError``, ``RegistryUnavailableError`` or ``ReloadRefused``; in every such
    case the serving model is unchanged on every worker.
    """
    requested = state.configured_ref if ref is None else str(ref)
    if normalise_ref(requested) is None:
        raise ReloadRefused(requested, "not a model version number or alias name")
    if not state.reload_lock.acquire(blocking=False):
        raise ReloadInProgressError(requested)
    started = time.perf_counter()
    try:
        model, checks = load_checked(state, requested)
        previous = state.model
        switched = previous is None or previous.version != model.version
        if state.instance is not None:
            workers = state.instance.switch_all(model, requested)
        else:
            state.switch(model, default_ref=requested)
            workers = state.workers()
        return ReloadOutcome(
            requested,
            previous,
            model,
            switched,
            tuple(checks),
            time.perf_counter() - started,
            tuple(workers),
        )
    finally:
        state.reload_lock.release()


def run_checks(state: ServingState, model: LoadedModel) -> list[Check]:
    """The checks a version passes before it serves; each one reports, none raises."""
    record = promotion_record(state, model)
    checks = [check_checksums(state, model), record.check, smoke_score(model, state)]
    if state.snapshot is not None:
        checks.append(snapshot_grants(state, model))
        checks.append(paid_levels(state, model, record.min_level_persons))
    return checks


@dataclass(frozen=True)
class PromotionRecord:
    """Whether the version passed the promotion gate on record, and that gate's level minimum."""

    check: Check
    min_level_persons: int = 1


def promotion_record(state: ServingState, model: LoadedModel) -> PromotionRecord:
    """The promotion gate the version passed, as recorded on it (``ptb promote``, or the first
    training's crowning). A version whose alias was moved outside ``ptb`` has none; a version
    the gate refused has a failed one. Neither may pay."""
    prefix = f"{GATE_TAG_PREFIX}promotion."
    version = model.version
    try:
        tags = state.store.version_tags(version)
    except PtbError as exc:
        return PromotionRecord(Check("promotion_gate", False, f"not read: {exc}"))
    passed = tags.get(f"{prefix}passed")
    if passed is None:
        detail = (
            f"version {version} has no promotion gate on record (its alias was moved outside "
            f"ptb); run `ptb promote {version}`, which records the gate it passes"
        )
        return PromotionRecord(Check("promotion_gate", False, detail))
    if passed != "true":
        failed = [
            f"{key.removeprefix(prefix)} {value}"
            for key, value in sorted(tags.items())
            if key.startswith(prefix) and value.startswith("fail")
        ]
        detail = f"version {version} failed its promotion gate: {'; '.join(failed) or passed}"
        return PromotionRecord(Check("promotion_gate", False, detail))
    try:
        bounds = json.loads(tags.get(f"{prefix}bounds", "{}"))
        minimum = int(bounds.get("min_level_persons", MIN_LEVEL_PERSONS))
    except (ValueError, TypeError, AttributeError):
        minimum = MIN_LEVEL_PERSONS
    reason = tags.get(f"{prefix}reason", "-")
    detail = f"passed, at least {minimum:,} persons per level" + (
        f", loosened for: {reason}" if reason != "-" else ""
    )
    # An empty level is refused whatever the bounds: nobody may be paid from no one's costs.
    return PromotionRecord(Check("promotion_gate", True, detail), max(1, minimum))


def paid_levels(state: ServingState, model: LoadedModel, min_persons: int = 1) -> Check:
    """The gate's level check, at the minimum the version was promoted under, on the levels
    the snapshot's persons are paid from."""
    snapshot = state.snapshot
    if snapshot is None:
        return Check("level_support", True, "no snapshot: checked at promotion")
    try:
        in_use = state.priced().scorer(model).features(snapshot.table.columns)
        found = level_support(model.bundle, min_persons=min_persons, in_use=in_use)
    except Exception as exc:  # noqa: BLE001 - any failure refuses the version
        return Check("level_support", False, f"{type(exc).__name__}: {exc}")
    return Check(found.name, found.passed, f"{found.figure}; {found.detail}")


def check_checksums(state: ServingState, model: LoadedModel) -> Check:
    verify = getattr(state.store, "verify_cached", None)
    try:
        where = verify(model.version) if verify is not None else None
    except BundleError as exc:
        return Check("checksums", False, str(exc))
    detail = "verified when read from the registry"
    return Check("checksums", True, detail if where is None else f"{detail}; {where}")


def smoke_persons(model: LoadedModel, state: ServingState) -> PersonColumns:
    """A few persons to price: the snapshot's first ones, else made from the model's tables."""
    if state.snapshot is not None:
        persons = state.snapshot.dataset.persons.head(SMOKE_PERSONS)
        kommune = state.snapshot.dataset.lists.set_index("list_id")["practice_kommune"]
        return PersonColumns.from_records(
            age=persons["age"].astype(int).tolist(),
            sex=persons["sex"].astype(str).tolist(),
            grunnkrets=persons["grunnkrets"].astype(str).tolist(),
            copayment_prev_year=persons["copayment_prev_year"].astype(float).tolist(),
            refugee_first_year=persons["refugee_first_year"].astype(bool).tolist(),
            practice_kommune=kommune.loc[persons["list_id"]].astype(str).tolist(),
        )
    reference = state.priced().release.reference  # the release the service prices with
    grunnkrets = [str(code) for code in reference.grunnkrets_share.index[:SMOKE_PERSONS]]
    count = len(grunnkrets)
    return PersonColumns.from_records(
        age=[(7 + 19 * i) % 100 for i in range(count)],
        sex=["F" if i % 2 else "M" for i in range(count)],
        grunnkrets=grunnkrets,
        copayment_prev_year=[0.0, 500.0, 2500.0, 0.0, 4000.0][:count],
        refugee_first_year=[i == 3 for i in range(count)],
        practice_kommune=[code[:4] for code in grunnkrets],
    )


def smoke_score(model: LoadedModel, state: ServingState) -> Check:
    try:
        columns = smoke_persons(model, state)
        scores = state.priced().scorer(model).score(columns, contributions=True)
    except Exception as exc:  # noqa: BLE001 - any failure refuses the version
        return Check("smoke_score", False, f"scoring failed: {type(exc).__name__}: {exc}")
    weight, grant = np.asarray(scores.weight), np.asarray(scores.grant_nok)
    if not len(weight):
        return Check("smoke_score", False, "no person to score")
    if not (np.isfinite(weight).all() and (weight > 0).all()):
        return Check("smoke_score", False, f"weights not finite and positive: {weight.tolist()}")
    if not (np.isfinite(grant).all() and (grant >= 0).all()):
        return Check("smoke_score", False, f"grants not finite and non-negative: {grant.tolist()}")
    return Check(
        "smoke_score",
        True,
        f"{len(weight)} persons: weights {weight.min():.3f}-{weight.max():.3f}, "
        f"grants {grant.min():,.2f}-{grant.max():,.2f} NOK a year",
    )


def snapshot_grants(state: ServingState, model: LoadedModel) -> Check:
    snapshot = state.snapshot
    if snapshot is None:
        return Check("snapshot_grants", True, "no registry snapshot to price")
    try:
        grants = snapshot.grants(model.version, state.priced().scorer(model))
    except Exception as exc:  # noqa: BLE001 - any failure refuses the version
        return Check("snapshot_grants", False, f"pricing failed: {type(exc).__name__}: {exc}")
    total = float(np.sum(grants.list_total_nok))
    if not (np.isfinite(grants.list_total_nok).all() and math.isfinite(total) and total > 0):
        return Check("snapshot_grants", False, "list grants not finite, or a total of 0 NOK")
    return Check(
        "snapshot_grants",
        True,
        f"{snapshot.n_lists:,} lists, {snapshot.n_persons:,} persons: {total:,.0f} NOK a year",
    )


class ModelWatch:
    """Re-resolve the configured serving alias every ``seconds``; reload when it moved.

    Only while the service serves that alias: an admin's pinned version is left alone.
    """

    def __init__(self, state: ServingState, seconds: float, on_outcome=None):
        self.state = state
        self.seconds = seconds
        self.on_outcome = on_outcome or (lambda outcome, error: None)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="ptb-model-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self.seconds):
            self.poll()

    def poll(self) -> ReloadOutcome | None:
        """One look at the alias; returns the outcome of a reload, or None if nothing moved."""
        state = self.state
        if state.instance is not None:
            state.instance.follow()  # a switch another worker committed is not a move
        ref = state.configured_ref
        if state.model is None or ref.isdigit() or state.default_ref != ref:
            return None
        try:
            version = state.store.resolve(ref)
        except Exception as exc:  # noqa: BLE001 - the registry may be down; try next time
            logger.warning("model watch: %r not resolved: %s", ref, exc)
            return None
        if version == state.model.version:
            return None
        logger.warning("model watch: %r moved to version %s; reloading", ref, version)
        try:
            outcome = reload_model(state, ref)
        except ReloadInProgressError:
            return None  # another worker of the instance is switching it already
        except Exception as exc:  # noqa: BLE001 - logged and counted; the old model serves
            logger.error("model watch: reload to %r refused: %s", ref, exc)
            self.on_outcome(None, exc)
            return None
        self.on_outcome(outcome, None)
        return outcome
