"""Training faults against the real server: it is down, it dies mid-run, training is killed
mid-run, an artifact is corrupted. Each leaves the registry as it was, or is refused clearly."""

from __future__ import annotations

import time
from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from features.bundle import BundleError, ModelBundle
from serving.model_store import ModelStore
from tests.integration.conftest import (
    FAST,
    free_port,
    ptb_process,
    registry_state,
    run_ptb,
)
from training.pipeline import train_and_register
from training.registry import CHAMPION

pytestmark = pytest.mark.slow

TRAIN = ("train", "--folds", "2", "--no-challengers")


def run_ids(tracking_uri: str) -> dict[str, dict[str, str]]:
    """Every run of the ``ptb`` experiment: its tags and status."""
    client = MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name("ptb")
    return {
        r.info.run_id: {**r.data.tags, "status": r.info.status}
        for r in client.search_runs([experiment.experiment_id])
    }


def wait_for_child_run(tracking_uri: str, known: set[str], process, timeout: float = 240) -> str:
    """Poll the server until a new nested run exists; its id."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            out, err = process.communicate()
            raise AssertionError(f"training ended before its first child run:\n{out}\n{err}")
        for run_id, tags in run_ids(tracking_uri).items():
            if run_id not in known and "mlflow.parentRunId" in tags:
                return run_id
        time.sleep(0.2)
    raise AssertionError("no child run appeared")


def flip_bytes(path: Path, at: int = 40) -> bytes:
    """Corrupt a file in place the way a bad disk would; returns the original bytes."""
    original = path.read_bytes()
    damaged = bytearray(original)
    damaged[min(at, len(damaged) - 1)] ^= 0xFF
    path.write_bytes(bytes(damaged))
    return original


# -- the server is down -----------------------------------------------------------------------


def test_training_against_a_down_server_fails_clearly_and_registers_nothing(
    first_training, mlflow_server, tiny_dataset
):
    before = registry_state(mlflow_server.url)
    closed = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(MlflowException, match=rf"{closed}.*(Connection refused|Max retries)"):
        train_and_register(tiny_dataset, tracking_uri=closed, options=FAST)
    assert registry_state(mlflow_server.url) == before


def test_cli_train_against_a_down_server_exits_1_naming_the_server(
    first_training, mlflow_server, tiny_data_dir, tmp_path
):
    before = registry_state(mlflow_server.url)
    closed = f"http://127.0.0.1:{free_port()}"
    code, out, err = run_ptb(
        *TRAIN, "--data", str(tiny_data_dir), tracking_uri=closed, cwd=tmp_path
    )
    assert code == 1, out + err
    assert closed in err and "Connection refused" in err
    assert "registered model" not in out
    assert registry_state(mlflow_server.url) == before


def test_cli_train_against_a_down_server_prints_no_traceback(tiny_data_dir, tmp_path):
    closed = f"http://127.0.0.1:{free_port()}"
    code, _, err = run_ptb(*TRAIN, "--data", str(tiny_data_dir), tracking_uri=closed, cwd=tmp_path)
    assert code == 1
    assert "Traceback" not in err and "error:" in err


def test_server_killed_mid_training_fails_the_run_and_registers_nothing_after_restart(
    first_training, mlflow_server, tiny_data_dir, tmp_path
):
    before = registry_state(mlflow_server.url)
    known = set(run_ids(mlflow_server.url))
    training = ptb_process(
        *TRAIN, "--data", str(tiny_data_dir), tracking_uri=mlflow_server.url, cwd=tmp_path
    )
    try:
        child = wait_for_child_run(mlflow_server.url, known, training)
        mlflow_server.stop()
        out, err = training.communicate(timeout=180)
    finally:
        if training.poll() is None:
            training.kill()
            training.communicate()
        if mlflow_server.process is None or mlflow_server.process.poll() is not None:
            mlflow_server.start()
    assert training.returncode == 1, out + err
    assert f"127.0.0.1:{mlflow_server.port}" in err or f"port={mlflow_server.port}" in err, err
    assert "registered model" not in out
    # Back up on the same database: the half-done run is there, nothing was registered.
    assert registry_state(mlflow_server.url) == before
    runs = run_ids(mlflow_server.url)
    assert child in runs and runs[child]["status"] != "FINISHED"


# -- training is killed -----------------------------------------------------------------------


def test_training_killed_after_its_first_child_run_registers_nothing(
    first_training, mlflow_server, tiny_data_dir, tmp_path
):
    before = registry_state(mlflow_server.url)
    known = set(run_ids(mlflow_server.url))
    training = ptb_process(
        *TRAIN, "--data", str(tiny_data_dir), tracking_uri=mlflow_server.url, cwd=tmp_path
    )
    try:
        child = wait_for_child_run(mlflow_server.url, known, training)
        training.kill()  # SIGKILL: no handler, no clean-up, as when a node dies
        out, _ = training.communicate(timeout=60)
    finally:
        if training.poll() is None:
            training.kill()
            training.communicate()
    assert training.returncode == -9
    assert "registered model" not in out
    assert registry_state(mlflow_server.url) == before
    runs = run_ids(mlflow_server.url)
    parent = runs[child]["mlflow.parentRunId"]
    # The killed run stays visibly unfinished (RUNNING): never mistaken for a good one.
    assert runs[parent]["status"] == "RUNNING" and runs[child]["status"] == "RUNNING"
    assert not any(tag.startswith("registered_") for tag in runs[parent])


# -- corrupted artifacts ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,message",
    [
        ("weight_table.csv", "weight_table.csv is missing or corrupted"),
        ("grunnkretser.parquet", "grunnkretser.parquet is missing or corrupted"),
        ("kommuner.parquet", "kommuner.parquet is missing or corrupted"),
        ("bundle.json", "unreadable bundle.json"),
    ],
)
def test_a_downloaded_bundle_with_a_flipped_byte_is_refused(
    first_training, mlflow_server, tmp_path, name, message
):
    local = Path(
        mlflow.artifacts.download_artifacts(
            run_id=first_training.run_ids["model_2026"],
            artifact_path="bundle",
            dst_path=str(tmp_path),
            tracking_uri=mlflow_server.url,
        )
    )
    ModelBundle.load(local)  # intact, it loads
    # bundle.json is flipped at its opening brace, so it no longer parses.
    flip_bytes(local / name, at=0 if name == "bundle.json" else 40)
    with pytest.raises(BundleError, match=message):
        ModelBundle.load(local)


def test_a_corrupted_bundle_in_the_artifact_store_is_refused_by_the_model_store(
    first_training, mlflow_server
):
    version = first_training.versions["challenger"]
    client = MlflowClient(mlflow_server.url)
    run = client.get_run(client.get_model_version("ptb", version).run_id)
    stored = mlflow_server.artifacts / run.info.artifact_uri.removeprefix("mlflow-artifacts:/")
    weight_table = stored / "bundle" / "weight_table.csv"
    original = flip_bytes(weight_table)
    try:
        with pytest.raises(BundleError, match="weight_table.csv is missing or corrupted"):
            ModelStore(mlflow_server.url).get(version)
    finally:
        weight_table.write_bytes(original)
    assert ModelStore(mlflow_server.url).get(version).version == version


def test_a_corrupted_cached_bundle_is_refused_and_fetched_again(
    first_training, mlflow_server, tmp_path
):
    _, aliases = registry_state(mlflow_server.url)
    cached = ModelStore(mlflow_server.url, cache_dir=tmp_path).get(CHAMPION)
    cached_table = tmp_path / "ptb" / f"v{cached.version}" / "weight_table.csv"
    good = cached_table.read_bytes()
    flip_bytes(cached_table)
    with pytest.raises(BundleError, match="weight_table.csv is missing or corrupted"):
        ModelBundle.load(cached_table.parent)
    again = ModelStore(mlflow_server.url, cache_dir=tmp_path).get(CHAMPION)
    assert again.version == aliases[CHAMPION]
    assert cached_table.read_bytes() == good  # the cache holds the verified copy again
    assert again.bundle.weight_table.equals(cached.bundle.weight_table)
