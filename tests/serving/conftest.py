"""Serving fixtures: a registry with real calibrated bundles, a snapshot and a test client.

Versions registered once per run, following training's convention (bundle files under the
source run's ``bundle/`` artifact path, version tag ``ptb_model``):

- ``1``: model_2026, undampened, alias ``champion``;
- ``2``: model_2026 with dampening 0.5, alias ``challenger``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from mlflow import MlflowClient

from features.bundle import MODEL_TAG, ModelBundle
from features.contract import Dataset
from features.scheme import SchemeParameters
from serving.access import KeyRing, add_key
from serving.access.audit import AuditLog
from serving.app import create_app
from serving.model_store import ModelStore
from serving.snapshot import Snapshot
from training.fit import calibrate
from training.gate import GateBounds, GateResult

MODEL = "ptb"


@dataclass(frozen=True)
class Registry:
    """A local MLflow registry in a temporary folder and what was registered in it."""

    tracking_uri: str
    root: Path
    bundles: dict[str, ModelBundle]  # version -> bundle


# What ``ptb promote`` records on a version whose gate passed; these tests' bundles come from
# small data, so the record's bounds allow thin levels, with the reason a loosening needs.
PROMOTED = GateResult(
    "-", GateBounds(min_level_persons=0), checks=(), reason="test on small synthetic data"
).tags()


def register_bundle(
    tracking_uri: str,
    artifact_root: Path,
    bundle: ModelBundle,
    alias: str | None = None,
    *,
    promoted: bool = True,
) -> str:
    """Log a bundle as a run's ``bundle/`` artifacts and register a version from that run;
    ``promoted``: with the promotion gate's record that reload requires."""
    client = MlflowClient(tracking_uri, registry_uri=tracking_uri)  # not the process-wide one
    experiment = client.get_experiment_by_name("ptb")
    experiment_id = (
        experiment.experiment_id
        if experiment is not None
        else client.create_experiment("ptb", artifact_location=artifact_root.as_uri())
    )
    run = client.create_run(experiment_id, run_name=bundle.name)
    with tempfile.TemporaryDirectory() as tmp:
        bundle.save(Path(tmp) / "bundle")
        client.log_artifacts(run.info.run_id, str(Path(tmp) / "bundle"), "bundle")
    client.set_terminated(run.info.run_id)
    if not client.search_registered_models(f"name='{MODEL}'"):
        client.create_registered_model(MODEL)
    version = client.create_model_version(
        MODEL,
        source=f"runs:/{run.info.run_id}/bundle",
        run_id=run.info.run_id,
        tags={MODEL_TAG: bundle.name, **(PROMOTED if promoted else {})},
    )
    if alias is not None:
        client.set_registered_model_alias(MODEL, alias, version.version)
    return str(version.version)


@pytest.fixture(scope="session")
def dampened_bundle(tiny_dataset: Dataset) -> ModelBundle:
    """The same model with half of the grant kept flat (dampening 0.5)."""
    return calibrate(tiny_dataset, name="model_2026", scheme=SchemeParameters(dampening=0.5)).bundle


@pytest.fixture(scope="session")
def registry(
    tmp_path_factory: pytest.TempPathFactory, bundle: ModelBundle, dampened_bundle: ModelBundle
) -> Registry:
    root = tmp_path_factory.mktemp("registry")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    bundles = {
        register_bundle(uri, root / "artifacts", bundle, "champion"): bundle,
        register_bundle(uri, root / "artifacts", dampened_bundle, "challenger"): dampened_bundle,
    }
    return Registry(uri, root, bundles)


@pytest.fixture(scope="session")
def snapshot(tiny_dataset: Dataset) -> Snapshot:
    """The training data set itself as the registry snapshot: its lists spend the budget."""
    return Snapshot(tiny_dataset, source="tiny_dataset")


@pytest.fixture(scope="module")
def store(registry: Registry, tmp_path_factory: pytest.TempPathFactory) -> ModelStore:
    return ModelStore(registry.tracking_uri, cache_dir=tmp_path_factory.mktemp("model-cache"))


@pytest.fixture(scope="module")
def client(store: ModelStore, snapshot: Snapshot) -> Iterator[TestClient]:
    """The API on the champion with the snapshot, loaded before the first request."""
    app = create_app(store, snapshot=snapshot, load_in_background=False, freeze_gc=False)
    with TestClient(app) as test_client:
        yield test_client


AUDIT_KEY = bytes.fromhex("5e" * 32)  # the tests' audit key; a deployment makes its own


def keyed_audit(path: Path) -> AuditLog:
    """An audit log as production keeps it: request digests keyed with ``AUDIT_KEY``."""
    return AuditLog(path, request_key=AUDIT_KEY)


# One key per role, with the ids an operator would give them.
KEY_IDS = {"payment": "settlement", "policy": "analyst", "admin": "operator"}


def keys_for_roles(path: Path, roles: tuple[str, ...] = tuple(KEY_IDS)) -> dict[str, str]:
    """A keys file at ``path`` with one key per role; the keys by role."""
    return {role: add_key(path, KEY_IDS[role], role) for role in roles}


@pytest.fixture(scope="module")
def role_keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A keys file with a payment, a policy and an admin key: its path and the keys by role."""
    path = tmp_path_factory.mktemp("keys") / "keys.json"
    return path, keys_for_roles(path)


def production_app(
    store: ModelStore,
    keyring: KeyRing,
    audit_file: Path,
    *,
    environment: str = "production",
    **options,
) -> FastAPI:
    """The API as a closed deployment builds it: keys required, every API request audited with
    a keyed digest; the model loaded before the first request. ``options`` go to create_app."""
    return create_app(
        store,
        api_keys=keyring,
        environment=environment,
        audit=keyed_audit(audit_file),
        load_in_background=False,
        freeze_gc=False,
        **options,
    )


@contextmanager
def production_client(
    store: ModelStore, snapshot: Snapshot, keys_file: Path, audit_file: Path
) -> Iterator[TestClient]:
    """The API as production runs it, with the snapshot, started."""
    app = production_app(store, KeyRing.load(keys_file), audit_file, snapshot=snapshot)
    with TestClient(app) as client:
        yield client


def person_body(dataset: Dataset, row: int = 0, **changes) -> dict:
    """A person of the data set as a POST /v1/grants/person body."""
    person = dataset.persons.iloc[row]
    lists = dataset.lists.set_index("list_id")["practice_kommune"]
    body = {
        "age": int(person["age"]),
        "sex": str(person["sex"]),
        "grunnkrets": str(person["grunnkrets"]),
        "copayment_prev_year": float(person["copayment_prev_year"]),
        "refugee_first_year": bool(person["refugee_first_year"]),
        "practice_kommune": str(lists[person["list_id"]]),
    }
    return {**body, **changes}


def list_body(dataset: Dataset, list_id: str, **changes) -> dict:
    """A list of the data set, persons in data set order, as a POST /v1/grants/list body."""
    persons = dataset.persons[dataset.persons["list_id"] == list_id]
    kommune = dataset.lists.set_index("list_id").loc[list_id, "practice_kommune"]
    body = {
        "practice_kommune": str(kommune),
        "persons": [
            {
                "age": int(p.age),
                "sex": str(p.sex),
                "grunnkrets": str(p.grunnkrets),
                "copayment_prev_year": float(p.copayment_prev_year),
                "refugee_first_year": bool(p.refugee_first_year),
            }
            for p in persons.itertuples()
        ],
    }
    return {**body, **changes}
