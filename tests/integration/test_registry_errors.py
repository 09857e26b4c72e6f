"""Registry errors stay errors: a real MLflow server whose PostgreSQL is stopped.

"Not found" only when the registry said so; an unreachable registry is a clear error, within a
bounded time, naming the tracking URI and the cause; "first version ever" is never decided from
a failed answer. The commands run with MLflow's own retry settings unset, so the bound shown is
the one ``ptb`` applies.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from features.errors import ModelNotFoundError, RegistryUnavailableError
from tests.integration.conftest import FAST, PostgresCluster, postgres_bin
from tests.mlflow_server import MlflowServer, environment_without_settings, mlflow_uris_restored
from training.gate import GateBounds, GateResult
from training.pipeline import train_and_register
from training.registration import Candidate, register
from training.registry import Registry

pytestmark = pytest.mark.slow

BOUND_SECONDS = 60  # ptb's defaults: 2 retries, 1 s back-off; a refused connection is instant


@pytest.fixture(scope="module")
def stopped_database(
    integration_dir: Path, postgres: PostgresCluster, tiny_dataset
) -> Iterator[MlflowServer]:
    """A server of its own, with one training registered, whose PostgreSQL is then stopped."""
    base = integration_dir / "stopped"
    base.mkdir()
    base.chmod(0o711)
    cluster = PostgresCluster(postgres.bin_dir or postgres_bin(), base)
    cluster.start()
    server = MlflowServer(
        cluster.uri, base / "artifacts", base / "server.log", env=environment_without_settings()
    )
    try:
        server.start()
        with mlflow_uris_restored():
            train_and_register(tiny_dataset, tracking_uri=server.url, options=FAST)
        Registry(server.url).resolve("1")  # up: version 1 exists
        cluster.stop()
        yield server
    finally:
        server.stop()
        cluster.stop()


def ptb(server: MlflowServer, *args: str, cwd: Path) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "ptb", *args],
        env=environment_without_settings(MLFLOW_TRACKING_URI=server.url, COLUMNS="200"),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=BOUND_SECONDS * 5,
    )
    return done, time.monotonic() - started


@pytest.mark.parametrize("command", [("promote", "1"), ("promote", "champion"), ("history",)])
def test_a_command_against_a_registry_without_its_database_fails_clearly_and_soon(
    stopped_database, tmp_path, command
):
    done, seconds = ptb(stopped_database, *command, cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert seconds < BOUND_SECONDS, f"took {seconds:.0f} s"
    assert f"model registry {stopped_database.url} failed" in done.stderr
    assert "500" in done.stderr or "error" in done.stderr.lower()
    assert "not found" not in done.stderr and "Traceback" not in done.stderr


def test_train_stops_before_any_work_naming_the_registry(stopped_database, tmp_path, tiny_data_dir):
    done, seconds = ptb(
        stopped_database, "train", "--data", str(tiny_data_dir), "--no-challengers", cwd=tmp_path
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert seconds < BOUND_SECONDS * 2, f"took {seconds:.0f} s"
    assert stopped_database.url in done.stderr and "calibrating" not in done.stdout


def test_a_version_is_unavailable_not_missing(stopped_database):
    registry = Registry(stopped_database.url)
    with pytest.raises(RegistryUnavailableError, match=stopped_database.url) as caught:
        registry.resolve("1")
    assert not isinstance(caught.value, ModelNotFoundError)
    with pytest.raises(RegistryUnavailableError):
        registry.versions()


def test_registration_never_takes_a_failed_answer_for_an_empty_registry(stopped_database):
    candidate = Candidate(
        "runs:/0/model", "0", "challenger", "model_2026", "test", GateResult("1", GateBounds(), ())
    )
    with pytest.raises(RegistryUnavailableError, match="listing versions"):
        register(stopped_database.url, [candidate])
