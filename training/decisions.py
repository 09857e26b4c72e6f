"""Recorded decisions: every alias move, who made it, when, from which version, and why.

A move is written as a tag on both versions it concerns, under the same key
``ptb.decision.<UTC time>.<alias>``: the version that received the alias and the one that lost
it. The value is the move as JSON (alias, from, to, by, at, gate, bounds, reason, command), so
the registry alone tells the story; ``ptb`` also appends each move to the audit log.
``champion_lineage`` reads the champion's history back from the tags.
"""

from __future__ import annotations

import getpass
import json
import shlex
import socket
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from mlflow.exceptions import MlflowException

from training.registry import CHAMPION, Registry

DECISION_PREFIX = "ptb.decision."

Undo = Callable[[], None]


def actor() -> str:
    """Who is deciding: the OS account and the host, as an audit trail names a person."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def command_line() -> str:
    return shlex.join(["ptb", *sys.argv[1:]]) if sys.argv else "ptb"


@dataclass(frozen=True)
class AliasMove:
    """One alias moved from one version to another under a gate, with its reason."""

    alias: str
    to_version: str
    from_version: str | None
    gate: str
    reason: str = ""
    bounds: dict = field(default_factory=dict)
    by: str = field(default_factory=actor)
    at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="microseconds"))
    command: str = field(default_factory=command_line)

    @property
    def key(self) -> str:
        stamp = datetime.fromisoformat(self.at).strftime("%Y%m%dT%H%M%S%fZ")
        return f"{DECISION_PREFIX}{stamp}.{self.alias}"

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> AliasMove:
        return cls(**json.loads(text))

    def audit_record(self) -> dict:
        """The move as an audit-log record (``ptb`` appends it to ``PTB_AUDIT_LOG``)."""
        return {"event": "alias_move", **asdict(self)}

    def describe(self) -> str:
        origin = f"from version {self.from_version}" if self.from_version else "(new alias)"
        why = f"; reason: {self.reason}" if self.reason else ""
        return (
            f"{self.alias} -> version {self.to_version} {origin} by {self.by} at {self.at}; "
            f"{self.gate}{why}"
        )


def move_alias(registry: Registry, move: AliasMove, undo: list[Undo]) -> None:
    """Record the move on both versions, then point the alias; ``undo`` learns how to revert."""
    client, model = registry.client, registry.model
    value = move.to_json()
    touched = [move.to_version] + ([move.from_version] if move.from_version else [])
    for version in touched:
        registry.call(
            f"recording the {move.alias} move on version {version}",
            client.set_model_version_tag,
            model,
            version,
            move.key,
            value,
        )
        undo.append(_deleting_tag(registry, version, move.key))
    registry.call(
        f"pointing {move.alias} at version {move.to_version}",
        client.set_registered_model_alias,
        model,
        move.alias,
        move.to_version,
    )
    undo.append(_restoring_alias(registry, move.alias, move.from_version))


def _deleting_tag(registry: Registry, version: str, key: str) -> Undo:
    return lambda: registry.client.delete_model_version_tag(registry.model, version, key)


def _restoring_alias(registry: Registry, alias: str, version: str | None) -> Undo:
    if version is None:
        return lambda: registry.client.delete_registered_model_alias(registry.model, alias)
    return lambda: registry.client.set_registered_model_alias(registry.model, alias, version)


def undo_all(undo: list[Undo]) -> list[str]:
    """Revert in reverse order; every step is tried, and the ones that failed are returned."""
    failed = []
    for step in reversed(undo):
        try:
            step()
        except (MlflowException, OSError) as exc:
            failed.append(str(exc))
    undo.clear()
    return failed


def recorded_moves(registry: Registry) -> list[AliasMove]:
    """Every alias move recorded on the model's versions, oldest first."""
    moves: dict[str, AliasMove] = {}
    for version in registry.versions():
        for key, value in version.tags.items():
            if key.startswith(DECISION_PREFIX):
                try:
                    moves[key] = AliasMove.from_json(value)
                except (ValueError, TypeError):
                    continue
    return sorted(moves.values(), key=lambda move: move.at)


def champion_lineage(registry: Registry, alias: str = CHAMPION) -> list[AliasMove]:
    """The alias's moves, oldest first: which version took over from which, by whom, why."""
    return [move for move in recorded_moves(registry) if move.alias == alias]
