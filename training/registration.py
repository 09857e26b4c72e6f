"""Registration, the last step of a training: all or nothing, and every alias move recorded.

Each candidate becomes a version with its gate result as tags and a one-line description. Its
alias (``challenger`` or ``incumbent``) moves only when the candidate passed the gate's data
checks; the first 2026-model version ever becomes ``champion`` too if it passed the whole
training-time gate, the registry snapshot's pricing included (unless the bounds waive it), and
then carries that gate as its promotion record. "First ever" is decided from the registry's answer, never from a failure.
If anything fails or a signal arrives before the commit point, the versions created here are
deleted and every alias and tag put back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import mlflow

from features import MODEL_TAG
from training.decisions import AliasMove, Undo, move_alias, undo_all
from training.gate import GateResult
from training.registry import CHALLENGER, CHAMPION, REGISTERED_MODEL, Registry


@dataclass(frozen=True)
class Candidate:
    """A logged model waiting for registration: where it is, its alias and its gate result."""

    model_uri: str
    run_id: str
    alias: str
    bundle_name: str
    description: str
    gate: GateResult


@dataclass(frozen=True)
class Registration:
    """What registration did: versions by alias slot, the moves made, the moves held back."""

    versions: dict[str, str]
    moves: tuple[AliasMove, ...] = ()
    held_back: dict[str, str] = field(default_factory=dict)


def register(
    tracking_uri: str,
    candidates: list[Candidate],
    *,
    check_interrupted: Callable[[], None] = lambda: None,
    model: str = REGISTERED_MODEL,
) -> Registration:
    """Register the candidates and move their aliases, all or nothing (see module doc).

    ``check_interrupted`` raises if the training was interrupted; it runs before the first
    change, between changes and once more at the end, inside the roll-back's reach.
    """
    registry = Registry(tracking_uri, model)
    check_interrupted()
    first_ever = not registry.versions()  # raises if the registry did not answer
    before = registry.aliases()
    undo: list[Undo] = []
    created: dict[str, str] = {}
    moves: list[AliasMove] = []
    held_back: dict[str, str] = {}
    try:
        for candidate in candidates:
            crowned = first_ever and candidate.alias == CHALLENGER and not _uncrowned(candidate)
            version = _create_version(registry, candidate, undo, crowned=crowned)
            created[candidate.alias] = version
            check_interrupted()
        for candidate in candidates:
            version = created[candidate.alias]
            if not candidate.gate.data_passed:
                held_back[candidate.alias] = "; ".join(candidate.gate.failures())
                continue
            moves.append(_move(registry, candidate, candidate.alias, version, before, undo))
            check_interrupted()
            if first_ever and candidate.alias == CHALLENGER:
                why_not = _uncrowned(candidate)
                if why_not is None:
                    moves.append(_move(registry, candidate, CHAMPION, version, before, undo))
                else:
                    held_back[CHAMPION] = f"first version, but {why_not}"
                check_interrupted()
    except BaseException:
        undo_all(undo)
        raise
    return Registration(created, tuple(moves), held_back)


def _uncrowned(candidate: Candidate) -> str | None:
    """Why the first version may not become champion, or None: it must pass the whole gate,
    and (unless the bounds waive it, with a reason) have priced the registry snapshot, as
    ``ptb promote`` requires."""
    gate = candidate.gate
    if not gate.passed:
        return "; ".join(gate.failures())
    priced = any(check.name == "snapshot_pricing" for check in gate.checks)
    if gate.bounds.require_snapshot and not priced:
        return (
            "no registry snapshot was priced: train with --snapshot DIR (or PTB_DATA_DIR), "
            "or promote it with ptb promote VERSION --snapshot DIR"
        )
    return None


def _create_version(
    registry: Registry, candidate: Candidate, undo: list[Undo], *, crowned: bool = False
) -> str:
    """Register the candidate with its gate result as tags. The first version ever crowned
    ``champion`` carries that gate as its promotion record too: the record reload requires."""
    tags = {MODEL_TAG: candidate.bundle_name, "run_id": candidate.run_id, **candidate.gate.tags()}
    if crowned:
        tags |= replace(candidate.gate, stage="promotion").tags()
    with registry.calls(f"registering {candidate.bundle_name}"):
        found = mlflow.register_model(candidate.model_uri, registry.model, tags=tags)
    version = str(found.version)
    undo.append(lambda: registry.client.delete_model_version(registry.model, version))
    registry.call(
        f"describing version {version}",
        registry.client.update_model_version,
        registry.model,
        version,
        description=candidate.description,
    )
    return version


def _move(
    registry: Registry,
    candidate: Candidate,
    alias: str,
    version: str,
    before: dict[str, str],
    undo: list[Undo],
) -> AliasMove:
    gate = candidate.gate
    move = AliasMove(
        alias=alias,
        to_version=version,
        from_version=before.get(alias),
        gate=gate.summary() if alias == CHAMPION else f"{gate.stage} data checks passed",
        reason=gate.reason or ("first version registered" if alias == CHAMPION else "new training"),
        bounds=gate.bounds.as_dict(),
    )
    move_alias(registry, move, undo)
    return move
