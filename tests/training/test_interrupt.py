"""Safe interruption: SIGINT or SIGTERM at any moment of a real ``ptb train`` leaves the
registry and its aliases as they were, or the training completed before the signal landed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from mlflow import MlflowClient

from features import synthesise, validate_dataset, write_dataset
from tests.conftest import SMALL_DATA_GATE
from training.pipeline import TrainingOptions, train_and_register

pytestmark = pytest.mark.slow

LOOSE = ("--min-level-persons", "0", "--min-data-share", "0", "--reason", "interruption test")
POINTS = 9  # signals spread over the whole run, registration included
TARIFFS = 3  # versions one training registers: the 2026 rule, model 0, the finer bands


def registry_state(uri: str) -> tuple[dict, dict]:
    """Every version with its tags, and every alias."""
    client = MlflowClient(uri, registry_uri=uri)
    versions = {str(v.version): dict(v.tags) for v in client.search_model_versions("name='ptb'")}
    aliases = client.get_registered_model("ptb").aliases
    return versions, {alias: str(version) for alias, version in aliases.items()}


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("interrupt")
    dataset = validate_dataset(synthesise(5000, 3), training=True)
    data = write_dataset(dataset, root / "data")
    uri = f"sqlite:///{root}/mlflow.db"
    train_and_register(
        dataset,
        tracking_uri=uri,
        artifact_root=str(root / "artifacts"),
        options=TrainingOptions(folds=2, challengers=False, **SMALL_DATA_GATE),
    )
    return {"root": root, "data": data, "uri": uri}


def start_training(store: dict) -> subprocess.Popen:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PTB_", "MLFLOW_"))},
        "MLFLOW_TRACKING_URI": store["uri"],
        "PTB_ARTIFACT_ROOT": str(store["root"] / "artifacts"),
        "PTB_AUDIT_LOG": str(store["root"] / "audit.jsonl"),
    }
    command = ["train", "--data", str(store["data"]), "--folds", "2", "--no-challengers"]
    return subprocess.Popen(
        [sys.executable, "-m", "ptb", *command, *LOOSE],
        env=env,
        cwd=store["root"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_signal_at_any_point_of_a_training_never_registers_part_of_it(store):
    before = registry_state(store["uri"])
    started = time.monotonic()
    full = start_training(store)
    out, err = full.communicate(timeout=600)
    duration = time.monotonic() - started
    assert full.returncode == 0, err[-3000:]
    after_full = registry_state(store["uri"])
    added = len(after_full[0]) - len(before[0])
    # A finished training registers the three tariffs (2026, model 0, fine bands), moves aliases.
    assert added == TARIFFS and after_full[1] != before[1]

    outcomes = []
    for point in range(POINTS):
        delay = 0.5 + (duration * 0.95 - 0.5) * point / (POINTS - 1)
        signum = signal.SIGINT if point % 2 == 0 else signal.SIGTERM
        state = registry_state(store["uri"])
        training = start_training(store)
        time.sleep(delay)
        if training.poll() is None:
            training.send_signal(signum)
        out, err = training.communicate(timeout=600)
        now = registry_state(store["uri"])
        outcomes.append((round(delay, 1), signum.name, training.returncode))
        whole = len(now[0]) == len(state[0]) + TARIFFS
        if training.returncode == 0:
            # The signal came after the commit point: the training is whole.
            assert whole, (delay, out, err)
            assert "registered model ptb version" in out
        elif not whole:
            # Before the commit point: nothing registered, no alias moved, no crash.
            assert now == state, (delay, signum.name, out, err[-3000:])
            assert "registered model" not in out
            assert "Traceback" not in err or training.returncode < 0, err[-3000:]
        # else: the signal landed after the commit point, as the command was ending; the
        # training is whole, which is the other outcome a signal may leave.
    interrupted = [o for o in outcomes if o[2] != 0]
    # Most signals land inside the training (a busy machine makes one run faster than another).
    assert len(interrupted) >= POINTS // 2, outcomes
    print("delay s, signal, exit code:", outcomes)
