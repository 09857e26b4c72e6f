"""One model for the whole instance: a real ``ptb serve --workers 2`` switched while requests
keep arriving, by an admin reload and by the watcher seeing a promotion.

Every answer names the version that priced it. The switch is pinned: once any request has been
answered by the new version, no request sent after that is answered by the old one, whichever
worker takes it; and afterwards every worker reports the new version.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import httpx
import pytest
from mlflow import MlflowClient

from features.contract import write_dataset
from tests.serving.conftest import MODEL, person_body, register_bundle
from tests.serving.test_server_process import running_service

pytestmark = pytest.mark.slow
FIRING_THREADS = 4


@dataclass(frozen=True)
class Answer:
    sent: float
    received: float
    version: str


def fire(url: str, body: dict, stop: threading.Event, answers: list[Answer]) -> None:
    """Person requests until ``stop``, a new connection each time so every worker gets some."""
    while not stop.is_set():
        sent = time.monotonic()
        response = httpx.post(f"{url}/v1/grants/person", json=body, timeout=30)
        assert response.status_code == 200, response.text
        answers.append(Answer(sent, time.monotonic(), response.json()["model_version"]))


def firing(url: str, body: dict):
    stop, answers = threading.Event(), []
    threads = [
        threading.Thread(target=fire, args=(url, body, stop, answers), daemon=True)
        for _ in range(FIRING_THREADS)
    ]
    for thread in threads:
        thread.start()
    return stop, answers, threads


def assert_pinned_switch(answers: list[Answer], old: str, new: str) -> None:
    assert {a.version for a in answers} == {old, new}, "the switch was not seen mid-traffic"
    first_new = min(a.received for a in answers if a.version == new)
    late_old = [a for a in answers if a.version == old and a.sent > first_new]
    assert not late_old, (
        f"{len(late_old)} requests sent after the first version-{new} answer were priced by "
        f"version {old}"
    )


def workers_on(url: str, version: str, count: int, timeout: float = 30) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        workers = httpx.get(f"{url}/readyz", timeout=10).json()["workers"]
        if len(workers) == count and all(w["model_version"] == version for w in workers):
            return workers
        assert time.monotonic() < deadline, (
            f"workers did not all reach version {version}: {workers}"
        )
        time.sleep(0.2)


@pytest.fixture
def own_registry(tmp_path, bundle, dampened_bundle):
    """Versions 1 (champion) and 2 in a registry of this test's own: it moves the alias."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    register_bundle(uri, tmp_path / "artifacts", bundle, "champion")
    register_bundle(uri, tmp_path / "artifacts", dampened_bundle, "challenger")
    return uri


def test_admin_reload_switches_every_worker_at_once(own_registry, tiny_dataset, tmp_path):
    data_dir = write_dataset(tiny_dataset, tmp_path / "snapshot")
    with running_service(own_registry, data_dir, tmp_path / "cache", workers=2) as url:
        # Ready means every worker is: a request may reach either.
        ready = httpx.get(f"{url}/readyz", timeout=10)
        before = ready.json()["workers"]
        assert ready.status_code == 200, ready.text
        assert [w["model_version"] for w in before] == ["1", "1"], before
        assert {w["worker"] for w in before} == {0, 1} and len({w["pid"] for w in before}) == 2
        stop, answers, threads = firing(url, person_body(tiny_dataset, 3))
        time.sleep(1.0)
        reloaded = httpx.post(f"{url}/v1/admin/reload", json={"model": "2"}, timeout=120)
        time.sleep(1.0)
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        assert reloaded.status_code == 200, reloaded.text
        result = reloaded.json()
        assert result["model_version"] == "2" and result["switched"] is True
        assert [w["model_version"] for w in result["workers"]] == ["2", "2"]
        assert_pinned_switch(answers, "1", "2")
        after = workers_on(url, "2", 2)
        assert {w["generation"] for w in after} == {1}
        model = httpx.get(f"{url}/v1/model", timeout=10).json()
        assert [w["model_version"] for w in model["workers"]] == ["2", "2"]
        # Every later answer, on either worker, is version 2.
        for _ in range(20):
            grant = httpx.post(f"{url}/v1/grants/person", json=person_body(tiny_dataset, 3))
            assert grant.json()["model_version"] == "2"


def test_a_promotion_seen_by_the_watcher_reaches_every_worker(own_registry, tiny_dataset, tmp_path):
    data_dir = write_dataset(tiny_dataset, tmp_path / "snapshot")
    settings = {"PTB_MODEL_WATCH_SECONDS": "1"}
    with running_service(own_registry, data_dir, tmp_path / "cache", 2, settings) as url:
        workers_on(url, "1", 2)
        stop, answers, threads = firing(url, person_body(tiny_dataset, 5))
        time.sleep(1.0)
        MlflowClient(own_registry, registry_uri=own_registry).set_registered_model_alias(
            MODEL, "champion", "2"
        )
        after = workers_on(url, "2", 2, timeout=60)
        time.sleep(0.5)
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        assert_pinned_switch(answers, "1", "2")
        assert {w["model_ref"] for w in after} == {"champion"}
        assert {w["generation"] for w in after} == {1}  # one switch for the instance, not two
