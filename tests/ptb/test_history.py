"""``ptb history`` on a real registry, piped as in a log or a ticket: every cell whole, and a
move made under loosened bounds shows them beside its reason."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow import MlflowClient

from training.decisions import AliasMove, move_alias
from training.gate import GateBounds
from training.registry import CHAMPION, REGISTERED_MODEL, Registry

PASSED = (
    "promotion gate passed (level_support pass, data_size pass, snapshot_pricing pass, "
    "predictive_ratios pass)"
)
FIRST = AliasMove(
    alias=CHAMPION,
    to_version="1",
    from_version=None,
    gate=PASSED.replace("promotion", "training"),
    reason="first version registered",
    bounds=GateBounds().as_dict(),
    by="kari.nordmann@helsedirektoratet-build-host-07.example.no",
    at="2026-11-30T20:15:03.123456+00:00",
)
LOOSENED = AliasMove(
    alias=CHAMPION,
    to_version="2",
    from_version="1",
    gate=PASSED,
    reason="[PTB-12] rehearsal: model 0 as a fallback while the 2026 data are audited",
    bounds=GateBounds(min_ratio=0.4, max_ratio=5.0).as_dict(),
    by="ola.hansen@helsedirektoratet-build-host-07.example.no",
    at="2026-12-01T08:00:00.000001+00:00",
)
UNRECORDED = AliasMove(  # a move recorded before bounds were kept with it
    alias=CHAMPION,
    to_version="1",
    from_version="2",
    gate=PASSED,
    reason="back to the 2026 rule",
    by="ola.hansen@helsedirektoratet-build-host-07.example.no",
    at="2026-12-02T09:30:00.000000+00:00",
)


@pytest.fixture(scope="module")
def registry_with_moves(tmp_path_factory) -> Path:
    """A sqlite registry with two versions and three recorded champion moves."""
    root = tmp_path_factory.mktemp("history")
    uri = f"sqlite:///{root}/mlflow.db"
    client = MlflowClient(uri, registry_uri=uri)
    client.create_registered_model(REGISTERED_MODEL)
    for _ in range(2):
        client.create_model_version(REGISTERED_MODEL, source=str(root / "model"))
    registry = Registry(uri)
    for move in (FIRST, LOOSENED, UNRECORDED):
        move_alias(registry, move, undo=[])
    return root


def history(root: Path, *args: str) -> subprocess.CompletedProcess:
    """``ptb history`` with its output piped (not a terminal) and no COLUMNS: 80 columns."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PTB_", "MLFLOW_"))},
        "MLFLOW_TRACKING_URI": f"sqlite:///{root}/mlflow.db",
    }
    env.pop("COLUMNS", None)
    return subprocess.run(
        [sys.executable, "-m", "ptb", "history", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=root,
    )


def test_piped_history_shows_every_cell_whole(registry_with_moves):
    done = history(registry_with_moves)
    assert done.returncode == 0, done.stderr
    assert "…" not in done.stdout
    for move in (FIRST, LOOSENED, UNRECORDED):
        line = next(line for line in done.stdout.splitlines() if move.at in line)
        for cell in (move.to_version, move.by, move.gate, move.reason):
            assert cell in line, f"{cell!r} cut from {line!r}"


def test_a_move_under_loosened_bounds_shows_the_bounds_beside_its_reason(registry_with_moves):
    lines = history(registry_with_moves).stdout.splitlines()
    loosened = next(line for line in lines if LOOSENED.at in line)
    assert "min_ratio: 0.4 (default 0.9)" in loosened
    assert "max_ratio: 5.0 (default 1.1)" in loosened and LOOSENED.reason in loosened
    default = next(line for line in lines if FIRST.at in line)
    assert "no bound loosened" in default and "min_ratio" not in default
    unrecorded = next(line for line in lines if UNRECORDED.at in line)
    assert "bounds not recorded" in unrecorded
