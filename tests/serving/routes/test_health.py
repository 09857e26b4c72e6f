"""/healthz and /readyz: alive at once, ready only once the model is loaded."""

from __future__ import annotations

import threading
import time

from fastapi.testclient import TestClient

from serving.app import create_app
from tests.serving.conftest import person_body


class SlowStore:
    """A store whose first load waits until the test lets it go."""

    def __init__(self, store):
        self.store = store
        self.release = threading.Event()

    def get(self, ref):
        assert self.release.wait(timeout=30)
        return self.store.get(ref)

    def cached(self, ref):
        return self.store.cached(ref)


def wait_ready(client: TestClient, seconds: float = 30) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        response = client.get("/readyz")
        if response.status_code == 200:
            return response.json()
        time.sleep(0.02)
    raise AssertionError("never ready")


def test_readyz_is_503_until_the_model_is_loaded(store, snapshot, tiny_dataset):
    slow = SlowStore(store)
    app = create_app(slow, snapshot=snapshot, load_in_background=True, freeze_gc=False)
    with TestClient(app) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        loading = client.get("/readyz")
        assert (loading.status_code, loading.json()["status"]) == (503, "loading")
        grant = client.post("/v1/grants/person", json=person_body(tiny_dataset))
        assert grant.status_code == 503
        assert grant.json()["error"] == "unavailable"
        slow.release.set()
        ready = wait_ready(client)
        assert (ready["model_version"], ready["snapshot_lists"]) == ("1", 20)
        assert client.post("/v1/grants/person", json=person_body(tiny_dataset)).status_code == 200


def test_readyz_reports_a_failed_load(store):
    app = create_app(
        store, default_model="no-such-alias", load_in_background=False, freeze_gc=False
    )
    with TestClient(app) as client:
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["status"] == "failed"
        assert "registered versions: 1, 2" in response.json()["error"]


def test_list_look_up_without_snapshot_is_404(store):
    app = create_app(store, load_in_background=False, freeze_gc=False)
    with TestClient(app) as client:
        response = client.get("/v1/grants/lists/L00001")
        assert response.status_code == 404
        assert response.json()["error"] == "no_snapshot"
        assert "without a registry snapshot" in response.json()["message"]


def test_openapi_documents_every_route_with_its_response_model(client):
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for path in ("/v1/grants/person", "/v1/grants/list", "/v1/grants/lists/{list_id}"):
        assert path in paths
    assert {"/v1/grants/lists", "/v1/model", "/healthz", "/readyz"} <= set(paths)
    person = paths["/v1/grants/person"]["post"]["responses"]
    assert person["200"]["content"]["application/json"]["schema"]["$ref"].endswith("PersonGrant")
    assert person["404"]["content"]["application/json"]["schema"]["$ref"].endswith("ErrorBody")
    export = paths["/v1/grants/lists"]["get"]["responses"]["200"]["content"]
    assert {"text/csv", "application/x-ndjson"} <= set(export)
