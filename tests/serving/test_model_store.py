"""The model store: aliases and versions, one load per version, and an offline restart."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import mlflow.tracking._model_registry.utils as registry_utils
import mlflow.tracking._tracking_service.utils as tracking_utils
import pytest

from features.errors import ModelNotFoundError
from serving.model_store import ModelStore, RegistryUnavailableError
from tests.conftest import SMALL_DATA_GATE


def unreachable_uri(tmp_path: Path) -> str:
    """A sqlite store that cannot be opened: its folder is a file."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    return f"sqlite:///{blocker / 'mlflow.db'}"


def test_alias_and_version_resolve_to_the_registered_bundle(registry, tmp_path):
    store = ModelStore(registry.tracking_uri, cache_dir=tmp_path)
    champion = store.get("champion")
    assert (champion.version, champion.alias) == ("1", "champion")
    assert champion.bundle.rate_nok == registry.bundles["1"].rate_nok
    assert champion.run_id
    challenger = store.get("challenger")
    assert challenger.version == "2"
    assert challenger.bundle.scheme.dampening == 0.5
    assert store.get(2).bundle is challenger.bundle
    assert store.versions() == ["1", "2"]


@pytest.mark.parametrize("ref", ["7", "no-such-alias", "0", "1; drop table"])
def test_unknown_version_or_alias_lists_the_registered_versions(registry, tmp_path, ref):
    store = ModelStore(registry.tracking_uri, cache_dir=tmp_path)
    with pytest.raises(ModelNotFoundError, match="registered versions: 1, 2") as caught:
        store.get(ref)
    assert caught.value.available == ("1", "2")


def test_a_version_is_loaded_once_under_concurrent_requests(registry, tmp_path, monkeypatch):
    store = ModelStore(registry.tracking_uri, cache_dir=tmp_path)
    downloads = []
    original = store._download

    def counting(version, run_id):
        downloads.append(version)
        return original(version, run_id)

    monkeypatch.setattr(store, "_download", counting)
    found = []
    threads = [threading.Thread(target=lambda: found.append(store.get("2"))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert downloads == ["2"]
    assert len({id(model.bundle) for model in found}) == 1
    assert store.cached("2") is found[0]


def test_restart_with_the_registry_down_serves_the_cached_model(registry, tmp_path):
    online = ModelStore(registry.tracking_uri, cache_dir=tmp_path / "cache")
    before = online.get("champion")
    offline = ModelStore(unreachable_uri(tmp_path), cache_dir=tmp_path / "cache")
    after = offline.get("champion")
    assert (after.version, after.run_id) == (before.version, before.run_id)
    assert after.bundle.rate_nok == before.bundle.rate_nok
    assert offline.versions() == ["1"]
    with pytest.raises(RegistryUnavailableError, match="version 2 is not cached"):
        offline.get("2")


def test_registry_down_without_a_cache_is_reported_as_unavailable(tmp_path):
    with pytest.raises(RegistryUnavailableError, match="unreachable"):
        ModelStore(unreachable_uri(tmp_path), cache_dir=tmp_path / "cache").get("champion")


def test_a_corrupted_cached_bundle_is_refused_and_downloaded_again(registry, tmp_path):
    cache = tmp_path / "cache"
    ModelStore(registry.tracking_uri, cache_dir=cache).get("1")
    table = cache / "ptb" / "v1" / "weight_table.csv"
    table.write_text(table.read_text().replace("age_sex", "age_sez", 1))
    offline = ModelStore(unreachable_uri(tmp_path), cache_dir=cache)
    with pytest.raises(RegistryUnavailableError):
        offline.get("1")
    again = ModelStore(registry.tracking_uri, cache_dir=cache).get("1")
    assert again.bundle.weight_table["factor"].iloc[0] == "age_sex"


@pytest.fixture
def mlflow_globals():
    """Training points MLflow's process-wide URIs at its store; put them back afterwards."""
    tracking, registry = tracking_utils._tracking_uri, registry_utils._registry_uri
    names = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")
    saved = {name: os.environ.get(name) for name in names}
    yield
    tracking_utils._tracking_uri, registry_utils._registry_uri = tracking, registry
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def test_a_version_registered_by_the_training_pipeline_is_served(
    tiny_dataset, tmp_path, mlflow_globals
):
    pipeline = pytest.importorskip("training.pipeline")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    outcome = pipeline.train_and_register(
        tiny_dataset,
        tracking_uri=uri,
        artifact_root=str(tmp_path / "artifacts"),
        options=pipeline.TrainingOptions(
            folds=2, challengers=False, models=("model_2026",), **SMALL_DATA_GATE
        ),
    )
    model = ModelStore(uri, cache_dir=tmp_path / "cache").get("champion")
    assert model.version == outcome.versions["challenger"]
    assert model.run_id == outcome.run_ids["model_2026"]
    assert model.name == "model_2026"
