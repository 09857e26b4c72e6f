"""The what-if routes' registry and snapshot, shared by the package's modules.

The registry is trained by ``training.pipeline`` on a synthetic snapshot written to disk, once
for the package: version 1 is ``model_2026`` (``champion`` and ``challenger``), version 2
``model0_2023`` (``incumbent``), version 3 the finer-bands challenger (``fine_bands``). Each
module gets an app of its own, so what one module's requests keep never shows in another's.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from serving.app import create_app
from serving.model_store import ModelStore
from serving.snapshot import Snapshot
from tests.conftest import trained_registry

SEED = 2027


@pytest.fixture(scope="package")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """A tracking URI with model_2026 and model0_2023 registered, and the snapshot directory."""
    return trained_registry(tmp_path_factory.mktemp("whatif-registry"), 20_000, SEED)


@pytest.fixture(scope="package")
def snapshot(trained) -> Snapshot:
    return Snapshot.load(trained[1])


@pytest.fixture(scope="package")
def store(trained) -> ModelStore:
    return ModelStore(trained[0])


@pytest.fixture(scope="module")
def api(store: ModelStore, snapshot: Snapshot) -> Iterator[TestClient]:
    app = create_app(store, snapshot=snapshot, load_in_background=False)
    with TestClient(app) as client:
        yield client
