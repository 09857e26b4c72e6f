"""Reload without downtime: load beside, check, switch at once; a bad version never serves."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from mlflow import MlflowClient

from serving.access import KeyRing
from serving.app import create_app
from serving.model_store import ModelStore
from serving.reload import ModelWatch
from tests.serving.conftest import MODEL, person_body, production_app, register_bundle


@dataclasses.dataclass
class Registry:
    uri: str
    artifacts: Path

    @property
    def client(self) -> MlflowClient:
        return MlflowClient(self.uri, registry_uri=self.uri)

    def register(self, bundle, alias: str | None = None, *, promoted: bool = True) -> str:
        return register_bundle(self.uri, self.artifacts, bundle, alias, promoted=promoted)


@pytest.fixture(scope="module")
def registry(tmp_path_factory, bundle, dampened_bundle) -> Registry:
    """Version 1 (champion) and version 2 (challenger, dampening 0.5), in this module's own store."""
    root = tmp_path_factory.mktemp("reload-registry")
    found = Registry(f"sqlite:///{root / 'mlflow.db'}", root / "artifacts")
    found.register(bundle, "champion")
    found.register(dampened_bundle, "challenger")
    return found


@pytest.fixture
def service(registry, snapshot, role_keys, tmp_path) -> Iterator[TestClient]:
    """A fresh service on the champion (version 1) for each test, so none inherits a switch."""
    registry.client.set_registered_model_alias(MODEL, "champion", "1")
    app = production_app(
        ModelStore(registry.uri, cache_dir=tmp_path / "cache"),
        KeyRing.load(role_keys[0]),
        tmp_path / "audit.jsonl",
        snapshot=snapshot,
    )
    with TestClient(app, headers={"Authorization": f"Bearer {role_keys[1]['admin']}"}) as client:
        yield client


def served_version(client: TestClient, dataset) -> str:
    response = client.post("/v1/grants/person", json=person_body(dataset))
    assert response.status_code == 200, response.text
    return response.json()["model_version"]


def test_reload_switches_the_default_model_after_its_checks(service, tiny_dataset):
    assert served_version(service, tiny_dataset) == "1"
    response = service.post("/v1/admin/reload", json={"model": "challenger"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["model_version"], body["previous_version"], body["switched"]) == ("2", "1", True)
    assert body["model_alias"] == "challenger"
    assert [(c["name"], c["passed"]) for c in body["checks"]] == [
        ("checksums", True),
        ("promotion_gate", True),
        ("smoke_score", True),
        ("snapshot_grants", True),
        ("level_support", True),
    ]
    assert "20 lists" in body["checks"][3]["detail"]
    assert served_version(service, tiny_dataset) == "2"
    assert service.get("/readyz").json()["model_version"] == "2"
    assert service.get("/v1/model").json()["scheme"]["dampening"] == 0.5
    again = service.post("/v1/admin/reload", json={"model": 2}).json()
    assert (again["switched"], again["model_alias"]) == (False, None)


def test_reload_without_a_model_follows_the_moved_serving_alias(service, registry, tiny_dataset):
    registry.client.set_registered_model_alias(MODEL, "champion", "2")
    # Within the alias TTL the service still serves what champion was when it started.
    assert served_version(service, tiny_dataset) == "1"
    response = service.post("/v1/admin/reload")
    assert response.status_code == 200, response.text
    assert (response.json()["requested"], response.json()["model_version"]) == ("champion", "2")
    assert served_version(service, tiny_dataset) == "2"
    assert service.post("/v1/admin/reload", json={}).json()["switched"] is False


def test_an_unknown_version_is_404_and_the_old_model_serves_on(service, tiny_dataset):
    response = service.post("/v1/admin/reload", json={"model": "7"})
    assert response.status_code == 404
    assert response.json()["available_versions"][:2] == ["1", "2"]
    assert served_version(service, tiny_dataset) == "1"


def test_a_corrupted_artifact_is_refused_and_the_old_model_serves_on(
    service, registry, bundle, tiny_dataset
):
    version = registry.register(bundle)
    run_id = registry.client.get_model_version(MODEL, version).run_id
    [weights] = registry.artifacts.glob(f"{run_id}/artifacts/bundle/weight_table.csv")
    weights.write_text(weights.read_text() + "tampered\n")
    response = service.post("/v1/admin/reload", json={"model": version})
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "reload_refused"
    assert "weight_table.csv is missing or corrupted" in body["message"]
    assert "still serving the old model" in body["message"]
    assert body["details"][0]["rule"] == "checksums"
    assert served_version(service, tiny_dataset) == "1"


def test_a_version_failing_its_smoke_score_is_refused(service, registry, bundle, tiny_dataset):
    broken = dataclasses.replace(bundle, rate_nok=float("nan"))
    version = registry.register(broken)
    response = service.post("/v1/admin/reload", json={"model": version})
    assert response.status_code == 422, response.text
    checks = {d["rule"]: d["message"] for d in response.json()["details"]}
    assert "smoke_score" in checks
    assert "not finite" in checks["smoke_score"]
    assert served_version(service, tiny_dataset) == "1"
    metrics = service.get("/metrics").text
    assert 'ptb_model_reloads_total{outcome="refused",trigger="admin"} 1.0' in metrics


def test_a_model_trained_on_other_areas_prices_the_snapshot_with_its_release(
    service, registry, bundle, tiny_dataset
):
    """The areas a model was trained on are provenance: the snapshot's release prices."""
    reference = dataclasses.replace(
        bundle.reference, grunnkrets_share=bundle.reference.grunnkrets_share.iloc[:3]
    )
    version = registry.register(dataclasses.replace(bundle, reference=reference))
    response = service.post("/v1/admin/reload", json={"model": version})
    assert response.status_code == 200, response.text
    assert all(check["passed"] for check in response.json()["checks"])
    assert served_version(service, tiny_dataset) == version


def test_a_champion_moved_by_hand_without_a_promotion_record_is_refused(
    service, registry, bundle, tiny_dataset
):
    # The alias set straight in MLflow, around `ptb promote` and its gate.
    version = registry.register(bundle, promoted=False)
    registry.client.set_registered_model_alias(MODEL, "champion", version)
    response = service.post("/v1/admin/reload", json={})
    assert response.status_code == 422, response.text
    checks = {d["rule"]: d["message"] for d in response.json()["details"]}
    assert f"version {version} has no promotion gate on record" in checks["promotion_gate"]
    assert f"ptb promote {version}" in checks["promotion_gate"]
    assert served_version(service, tiny_dataset) == "1"


def test_a_version_the_promotion_gate_refused_is_refused(service, registry, bundle, tiny_dataset):
    version = registry.register(bundle, promoted=False)
    for key, value in {
        "ptb.gate.promotion.passed": "false",
        "ptb.gate.promotion.level_support": "fail: smallest level 105 persons (minimum 500)",
    }.items():
        registry.client.set_model_version_tag(MODEL, version, key, value)
    response = service.post("/v1/admin/reload", json={"model": version})
    assert response.status_code == 422, response.text
    checks = {d["rule"]: d["message"] for d in response.json()["details"]}
    assert (
        "failed its promotion gate: level_support fail: smallest level 105"
        in (checks["promotion_gate"])
    )
    assert served_version(service, tiny_dataset) == "1"


def test_levels_are_held_to_the_minimum_the_version_was_promoted_under(
    service, registry, bundle, tiny_dataset
):
    version = registry.register(bundle)
    strict = json.dumps({"min_level_persons": 1_000_000})  # as if promoted under a huge minimum
    registry.client.set_model_version_tag(MODEL, version, "ptb.gate.promotion.bounds", strict)
    response = service.post("/v1/admin/reload", json={"model": version})
    assert response.status_code == 422, response.text
    checks = {d["rule"]: d["message"] for d in response.json()["details"]}
    assert "under 1,000,000 persons" in checks["level_support"]
    assert served_version(service, tiny_dataset) == "1"


def test_a_model_paying_snapshot_persons_from_an_empty_level_is_refused(
    service, registry, bundle, tiny_dataset
):
    # The promotion gate's level check (features.gate): the oldest men were never seen.
    table = bundle.weight_table.copy()
    table.loc[(table["factor"] == "age_sex") & (table["level"] == "M 80+"), "persons"] = 0
    version = registry.register(dataclasses.replace(bundle, weight_table=table))
    response = service.post("/v1/admin/reload", json={"model": version})
    assert response.status_code == 422, response.text
    checks = {d["rule"]: d["message"] for d in response.json()["details"]}
    assert "age_sex=M 80+ (0)" in checks["level_support"]
    assert served_version(service, tiny_dataset) == "1"


def test_requests_during_reloads_are_all_answered(service, tiny_dataset):
    body = person_body(tiny_dataset)
    answers: list[tuple[int, str | None]] = []
    stop = threading.Event()

    def ask() -> None:
        while not stop.is_set():
            response = service.post("/v1/grants/person", json=body)
            answers.append((response.status_code, response.json().get("model_version")))

    askers = [threading.Thread(target=ask) for _ in range(4)]
    for thread in askers:
        thread.start()
    try:
        for target in ("challenger", "champion", "2", "1", "challenger"):
            assert service.post("/v1/admin/reload", json={"model": target}).status_code == 200
    finally:
        stop.set()
        for thread in askers:
            thread.join()
    assert answers
    assert {status for status, _ in answers} == {200}
    assert {version for _, version in answers} <= {"1", "2"}


def test_a_second_reload_while_one_runs_is_409(service):
    state = service.app.state.serving
    with state.reload_lock:
        response = service.post("/v1/admin/reload", json={"model": "challenger"})
    assert response.status_code == 409
    assert response.json()["error"] == "reload_in_progress"


def test_only_an_admin_key_may_reload(service, role_keys):
    response = service.post(
        "/v1/admin/reload",
        json={"model": "challenger"},
        headers={"Authorization": f"Bearer {role_keys[1]['payment']}"},
    )
    assert response.status_code == 403
    assert service.app.state.serving.model.version == "1"


def test_the_model_watch_follows_the_alias_and_leaves_a_pinned_version(
    service, registry, tiny_dataset
):
    state = service.app.state.serving
    watch = ModelWatch(state, seconds=3600)
    assert watch.poll() is None  # champion has not moved
    registry.client.set_registered_model_alias(MODEL, "champion", "2")
    outcome = watch.poll()
    assert outcome is not None and outcome.current.version == "2"
    assert served_version(service, tiny_dataset) == "2"
    service.post("/v1/admin/reload", json={"model": "1"})
    assert watch.poll() is None  # an admin pinned version 1: the watch leaves it
    assert served_version(service, tiny_dataset) == "1"


def test_the_background_watch_reloads_by_itself(registry, snapshot, tmp_path, tiny_dataset):
    registry.client.set_registered_model_alias(MODEL, "champion", "1")
    app = create_app(
        ModelStore(registry.uri, cache_dir=tmp_path / "cache"),
        snapshot=snapshot,
        load_in_background=False,
        freeze_gc=False,
        model_watch_seconds=0.1,
    )
    with TestClient(app) as client:
        assert served_version(client, tiny_dataset) == "1"
        registry.client.set_registered_model_alias(MODEL, "champion", "2")
        state = app.state.serving
        for _ in range(200):
            if state.model.version == "2":
                break
            threading.Event().wait(0.05)
        assert served_version(client, tiny_dataset) == "2"
        assert (
            'ptb_model_reloads_total{outcome="switched",trigger="watch"} 1.0'
            in client.get("/metrics").text
        )
    registry.client.set_registered_model_alias(MODEL, "champion", "1")
