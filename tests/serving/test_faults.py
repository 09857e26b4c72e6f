"""Faults on the serving side, against a real ``mlflow server`` that is killed mid-service.

The server runs on 127.0.0.1 with a sqlite backend and proxied artifacts in a temporary folder;
``training.pipeline`` registers the models through it (version 1 ``model_2026``, champion).
MLflow's client is told to fail at once (no retries, 5 s timeout) so a dead server costs
milliseconds; production values are in docs/security.md.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from serving.app import create_app
from serving.model_store import ModelStore
from tests.conftest import FAST_TRAINING
from tests.mlflow_server import MlflowServer, mlflow_uris_restored
from tests.serving.conftest import person_body
from training.pipeline import train_and_register

pytestmark = pytest.mark.slow

FAIL_FAST = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "5"}


@pytest.fixture(autouse=True)
def client_fails_fast(monkeypatch) -> None:
    for name, value in FAIL_FAST.items():
        monkeypatch.setenv(name, value)


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[MlflowServer]:
    root = tmp_path_factory.mktemp("mlflow-server")
    found = MlflowServer(f"sqlite:///{root / 'mlflow.db'}", root / "artifacts", root / "server.log")
    found.start()
    try:
        yield found
    finally:
        found.stop()


@pytest.fixture(scope="module")
def trained(server, tiny_dataset) -> dict[str, str]:
    """The models trained on the tiny data set and registered through the server."""
    with mlflow_uris_restored(), pytest.MonkeyPatch.context() as patch:
        for name, value in FAIL_FAST.items():
            patch.setenv(name, value)
        outcome = train_and_register(
            tiny_dataset,
            tracking_uri=server.url,
            options=FAST_TRAINING,
        )
    return outcome.versions


@pytest.fixture
def running(server, trained) -> MlflowServer:
    """The server, started again if a test before killed it."""
    if not server.running:
        server.start()
    return server


def service(server: MlflowServer, snapshot, cache: Path, **options) -> TestClient:
    store = ModelStore(server.url, cache_dir=cache, alias_ttl_seconds=0.0, offline_seconds=1.0)
    app = create_app(store, snapshot=snapshot, freeze_gc=False, **options)
    return TestClient(app)


def wait_status(client: TestClient, statuses: set[str], seconds: float = 60) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        body = client.get("/readyz").json()
        if body["status"] in statuses:
            return body
        time.sleep(0.05)
    raise AssertionError(f"readiness never reached {statuses}: {body}")


def fill_cache(server: MlflowServer, snapshot, cache: Path) -> None:
    """Serve the champion once with the server up, so the cache holds it."""
    with service(server, snapshot, cache, load_in_background=False) as client:
        assert client.get("/readyz").status_code == 200


def test_the_service_answers_from_its_model_while_the_registry_is_down(
    running, trained, snapshot, tiny_dataset, tmp_path
):
    # the first is champion too; the finer-bands challenger is registered as evidence
    assert trained == {"challenger": "1", "incumbent": "2", "fine_bands": "3"}
    list_id = str(tiny_dataset.lists["list_id"].iloc[0])
    with service(running, snapshot, tmp_path / "cache", load_in_background=False) as client:
        assert client.get("/readyz").json()["model_version"] == "1"
        running.stop()
        for _ in range(5):
            grant = client.post("/v1/grants/person", json=person_body(tiny_dataset))
            assert grant.status_code == 200
            assert grant.json()["model_version"] == "1"
        assert client.get(f"/v1/grants/lists/{list_id}").status_code == 200
        assert client.get("/readyz").status_code == 200
        # The alias asked by name: the registry is down, the version it last pointed to answers.
        pinned = client.get("/v1/model", params={"model_version": "champion"})
        assert (pinned.status_code, pinned.json()["model_version"]) == (200, "1")
        # A version never loaded cannot be served: 503, naming the cause.
        started = time.monotonic()
        uncached = client.get("/v1/model", params={"model_version": trained["incumbent"]})
        assert uncached.status_code == 503
        assert time.monotonic() - started < 30
        message = uncached.json()["message"]
        assert f"model registry {running.url} unreachable" in message
        assert f"version {trained['incumbent']} is not cached" in message
        assert uncached.headers["retry-after"] == "5"
        # A reload cannot resolve the alias: refused, and the old model serves on.
        reload = client.post("/v1/admin/reload", json={})
        assert reload.status_code == 503
        assert "'champion' cannot be resolved" in reload.json()["message"]
        assert client.post("/v1/grants/person", json=person_body(tiny_dataset)).status_code == 200
        # The registry is back: after the store's back-off the pinned version loads.
        running.start()
        time.sleep(1.1)
        again = client.get("/v1/model", params={"model_version": trained["incumbent"]})
        assert again.status_code == 200, again.text


def test_a_restart_with_the_registry_down_serves_the_verified_cache(
    running, snapshot, tiny_dataset, tmp_path
):
    fill_cache(running, snapshot, tmp_path / "cache")
    running.stop()
    with service(running, snapshot, tmp_path / "cache", load_in_background=False) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["model_version"] == "1"
        grant = client.post("/v1/grants/person", json=person_body(tiny_dataset))
        assert (grant.status_code, grant.json()["model_version"]) == (200, "1")


def test_a_restart_with_the_registry_down_and_no_cache_says_why_until_it_is_back(
    running, snapshot, tiny_dataset, tmp_path
):
    running.stop()
    with service(running, snapshot, tmp_path / "empty", startup_retry_seconds=0.2) as client:
        failed = wait_status(client, {"failed", "ready"})
        assert failed["status"] == "failed"
        assert f"model registry {running.url} unreachable" in failed["error"]
        assert "no cached 'champion'" in failed["error"]
        assert "retrying every 0.2 s" in failed["error"]
        assert client.get("/readyz").status_code == 503
        refused = client.post("/v1/grants/person", json=person_body(tiny_dataset))
        assert refused.status_code == 503
        assert "failed to load" in refused.json()["message"]
        running.start()
        ready = wait_status(client, {"ready"})
        assert ready["model_version"] == "1"
        assert client.post("/v1/grants/person", json=person_body(tiny_dataset)).status_code == 200


def test_a_corrupted_cached_model_is_refused_and_the_service_says_why(running, snapshot, tmp_path):
    cache = tmp_path / "cache"
    fill_cache(running, snapshot, cache)
    running.stop()
    weights = cache / "ptb" / "v1" / "weight_table.csv"
    weights.write_text(weights.read_text().replace("0.", "9.", 1))
    with service(running, snapshot, cache, load_in_background=False) as client:
        response = client.get("/readyz")
        assert response.status_code == 503
        error = response.json()["error"]
        assert "the cached copy of version 1 was refused" in error
        assert "weight_table.csv is missing or corrupted" in error
    assert not (cache / "ptb" / "v1").exists()
    assert len(list((cache / "ptb").glob(".v1.corrupt-*"))) == 1
    # With the registry back, the version is downloaded again and verified.
    running.start()
    with service(running, snapshot, cache, load_in_background=False) as client:
        assert client.get("/readyz").json()["model_version"] == "1"
    assert (cache / "ptb" / "v1" / "weight_table.csv").exists()


def test_the_service_never_waits_minutes_on_a_dead_registry(running, snapshot, tmp_path):
    """The default retry budget of the service is seconds, not MLflow's four minutes."""
    cache = tmp_path / "cache"
    fill_cache(running, snapshot, cache)
    running.stop()
    with pytest.MonkeyPatch.context() as patch:
        for name in FAIL_FAST:
            patch.delenv(name, raising=False)
        from serving.model_store import apply_registry_http_defaults

        applied = apply_registry_http_defaults(os.environ)
        assert applied == {
            "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
            "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
            "MLFLOW_HTTP_REQUEST_TIMEOUT": "10",
        }
        started = time.monotonic()
        with service(running, snapshot, cache, load_in_background=False) as client:
            assert client.get("/readyz").status_code == 200
        assert time.monotonic() - started < 60


@pytest.fixture(scope="module", autouse=True)
def _cleanup_server_files(server) -> Iterator[None]:
    yield
    server.stop()
    shutil.rmtree(server.artifacts, ignore_errors=True)
