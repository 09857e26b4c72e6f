"""A client generated from the served OpenAPI document prices a person and a list.

What a payment system does: run openapi-python-client on ``/openapi.json`` and call the API
through the generated package. The generator lives in a virtualenv of its own
(``.ci/setup-openapi-client.sh``, which CI runs); this test runs the script itself when the tool
is missing and is skipped only if it cannot be had (no network, no PyPI mirror).
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from fastapi.testclient import TestClient

from features import Dataset
from serving.access import KeyRing, add_key
from serving.model_store import ModelStore
from serving.snapshot import Snapshot
from tests.serving.conftest import list_body, person_body, production_app

ROOT = Path(__file__).resolve().parents[2]
SETUP = ROOT / ".ci" / "setup-openapi-client.sh"
PACKAGE = "ptb_api_client"


def generator() -> Path:
    """The openapi-python-client executable, installed by the CI script if missing."""
    venv = Path(os.environ.get("PTB_OPENAPI_CLIENT_VENV", ROOT / ".ci-cache" / "openapi-client"))
    tool = venv / "bin" / "openapi-python-client"
    if not tool.exists():
        done = subprocess.run(["bash", str(SETUP)], capture_output=True, text=True, timeout=600)
        if done.returncode != 0 or not tool.exists():
            pytest.skip(
                "openapi-python-client cannot be installed here "
                f"({SETUP.name} failed): {done.stderr.strip()[-300:]}"
            )
    return tool


@pytest.fixture(scope="module")
def served(
    store: ModelStore, snapshot: Snapshot, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TestClient, str]]:
    """A closed deployment and a payment key."""
    folder = tmp_path_factory.mktemp("generated-client")
    keys = folder / "keys.json"
    key = add_key(keys, "payment-system", "payment")
    app = production_app(store, KeyRing.load(keys), folder / "audit.jsonl", snapshot=snapshot)
    with TestClient(app) as client:
        yield client, key


@pytest.fixture(scope="module")
def generated(
    served: tuple[TestClient, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ModuleType]:
    """The client package generated from the served document, imported."""
    tool = generator()
    client, _ = served
    folder = tmp_path_factory.mktemp("openapi-python-client")
    spec = folder / "openapi.json"
    spec.write_text(json.dumps(client.get("/openapi.json").json()))
    config = folder / "config.json"
    config.write_text(json.dumps({"package_name_override": PACKAGE, "post_hooks": []}))
    out = folder / PACKAGE
    done = subprocess.run(
        [str(tool), "generate", "--path", str(spec), "--output-path", str(out)]
        + ["--meta", "none", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Warning" not in done.stdout + done.stderr, done.stdout + done.stderr
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(folder))
        for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
            del sys.modules[name]


def api_client(generated: ModuleType, served: tuple[TestClient, str]):
    """The generated ``AuthenticatedClient`` over the in-process service, with the payment key."""
    client, key = served
    over = TestClient(client.app, headers={"Authorization": f"Bearer {key}"})
    return generated.AuthenticatedClient(base_url="http://testserver", token=key).set_httpx_client(
        over
    )


def test_the_generated_client_has_one_class_per_schema(generated):
    models = importlib.import_module(f"{PACKAGE}.models")
    names = set(models.__all__)
    assert {"PersonIn", "ListIn", "ListPersonIn", "Scenario", "ReloadIn", "ListGrantRow"} <= names
    assert not [name for name in names if "V1" in name or "Post" in name], sorted(names)


@pytest.mark.parametrize(
    ("operation", "body_model", "answer_model", "path"),
    [
        ("person_grant", "PersonIn", "PersonGrant", "/v1/grants/person"),
        ("list_grant", "ListIn", "ListGrant", "/v1/grants/list"),
    ],
)
def test_a_generated_client_prices_as_the_api_does(
    generated, served, tiny_dataset: Dataset, operation, body_model, answer_model, path
):
    """A person and a list through the generated functions and models, as a payment system
    would; the answer is the one the API gives a hand-written request."""
    client, key = served
    models = importlib.import_module(f"{PACKAGE}.models")
    call = importlib.import_module(f"{PACKAGE}.api.grants.{operation}")
    first_list = str(tiny_dataset.lists["list_id"].iloc[0])
    body = (
        person_body(tiny_dataset)
        if operation == "person_grant"
        else (list_body(tiny_dataset, first_list))
    )
    answer = call.sync(
        client=api_client(generated, served), body=getattr(models, body_model).from_dict(body)
    )
    assert isinstance(answer, getattr(models, answer_model)), answer
    direct = client.post(path, json=body, headers={"Authorization": f"Bearer {key}"})
    assert answer.to_dict() == direct.json()
    assert answer.model_version == direct.json()["model_version"]
