"""What one service instance answers: every API, or payment grants apart from policy what-if."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from features.settings import Settings
from serving.app import API_SETS, create_app, create_app_from_settings
from tests.serving.conftest import person_body


def paths_of(app) -> set[str]:
    """The API's documented paths (the /policy page is checked by requesting it)."""
    return set(app.openapi()["paths"])


@pytest.fixture(scope="module")
def instances(store, snapshot):
    """A payment instance and a policy instance over the same registry and snapshot."""
    built = {
        name: create_app(
            store,
            snapshot=snapshot,
            routers=API_SETS[name],
            load_in_background=False,
            freeze_gc=False,
        )
        for name in ("payment", "policy")
    }
    with TestClient(built["payment"]) as payment, TestClient(built["policy"]) as policy:
        yield {"payment": payment, "policy": policy}


def test_a_payment_instance_answers_grants_and_no_what_if(instances, tiny_dataset):
    client = instances["payment"]
    assert client.post("/v1/grants/person", json=person_body(tiny_dataset)).status_code == 200
    assert client.get("/v1/model").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert client.post("/v1/whatif", json={"dampening": 0.5}).status_code == 404
    assert client.get("/policy").status_code == 404


def test_a_policy_instance_answers_what_if_and_no_grants(instances, tiny_dataset):
    client = instances["policy"]
    answer = client.post("/v1/whatif", json={"dampening": 0.5})
    assert answer.status_code == 200
    assert answer.json()["winners"] + answer.json()["losers"] > 0
    assert client.get("/policy").status_code == 200
    assert client.post("/v1/grants/person", json=person_body(tiny_dataset)).status_code == 404


def test_every_api_is_in_the_all_set_and_in_exactly_one_of_the_others():
    whole = paths_of(create_app_from_settings(Settings(apis="all")))
    payment = paths_of(create_app_from_settings(Settings(apis="payment")))
    policy = paths_of(create_app_from_settings(Settings(apis="policy")))
    assert payment | policy == whole
    shared = payment & policy
    assert all(not path.startswith(("/v1/grants", "/v1/whatif")) for path in shared)
    assert any(path.startswith("/v1/grants") for path in payment)
    assert any(path.startswith("/v1/whatif") for path in policy)


def test_settings_refuse_an_unknown_api_set(monkeypatch):
    monkeypatch.setenv("PTB_APIS", "grants-only")
    with pytest.raises(ValueError, match="apis"):
        Settings()
