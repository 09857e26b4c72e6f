"""API keys and roles: 401 without a valid key, 403 for a role too low, revoked keys refused."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient

from features.errors import AuthenticationError, ConfigurationError, KeyFileError
from features.settings import Settings
from serving.access import ROLES, KeyRing, add_key, revoke_key
from serving.access import keys as security
from serving.access.audit import AuditLog, read_request_key, write_request_key
from serving.app import DEFAULT_ROUTERS, create_app, create_app_from_settings
from tests.serving.conftest import list_body, person_body, production_app, production_client

PROTECTED = {
    # path, method, body -> the least role that may call it
    ("/v1/model", "GET"): "payment",
    ("/v1/grants/person", "POST"): "payment",
    ("/v1/grants/lists/L00001", "GET"): "payment",
    ("/v1/whatif", "POST"): "policy",
    ("/v1/admin/reload", "POST"): "admin",
}


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A keys file with one key per role; returns its path and the keys by role."""
    path = tmp_path_factory.mktemp("keys") / "api-keys.json"
    return path, {role: add_key(path, f"{role}-desk", role) for role in ROLES}


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def secured(store, snapshot, keys, tmp_path_factory) -> Iterator[TestClient]:
    """The API as production runs it: keys required, every API request audited."""
    audit_file = tmp_path_factory.mktemp("audit") / "audit.jsonl"
    with production_client(store, snapshot, keys[0], audit_file) as client:
        yield client


def call(client: TestClient, path: str, method: str, key: str | None, dataset) -> int:
    headers = auth(key) if key is not None else {}
    if method == "GET":
        return client.get(path, headers=headers).status_code
    body = {"model": "champion"} if "admin" in path else {}
    if path.endswith("/person"):
        body = person_body(dataset)
    return client.post(path, json=body, headers=headers).status_code


@pytest.mark.parametrize(("path", "method"), list(PROTECTED))
def test_a_request_without_a_key_is_401_with_a_bearer_challenge(secured, path, method):
    response = secured.request(method, path, json={} if method == "POST" else None)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["error"] == "unauthorized"
    assert "Authorization: Bearer" in response.json()["message"]


@pytest.mark.parametrize(
    "key",
    [
        "ptb.admin-desk.not-the-secret",  # a known id, a wrong secret
        "ptb.nobody.abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",  # an unknown id
        "just-a-string",  # not of our form
    ],
)
def test_a_wrong_key_is_401(secured, key):
    response = secured.get("/v1/model", headers=auth(key))
    assert response.status_code == 401
    assert key not in response.text


@pytest.mark.parametrize(("path", "method"), list(PROTECTED))
@pytest.mark.parametrize("role", ROLES)
def test_each_role_reaches_exactly_its_endpoints(secured, keys, tiny_dataset, path, method, role):
    needed = PROTECTED[(path, method)]
    status = call(secured, path, method, keys[1][role], tiny_dataset)
    if ROLES.index(role) >= ROLES.index(needed):
        assert status not in (401, 403), f"{role} refused {method} {path}"
    else:
        assert status == 403, f"{role} was let into {method} {path}"


def test_a_role_too_low_is_told_which_role_it_needs(secured, keys):
    response = secured.post("/v1/whatif", json={}, headers=auth(keys[1]["payment"]))
    assert response.status_code == 403
    assert response.json()["error"] == "forbidden"
    assert "'payment-desk' has role 'payment'" in response.json()["message"]
    assert "needs role 'policy'" in response.json()["message"]


def test_payment_key_reads_grants(secured, keys, tiny_dataset):
    list_id = str(tiny_dataset.lists["list_id"].iloc[0])
    headers = auth(keys[1]["payment"])
    person = secured.post("/v1/grants/person", json=person_body(tiny_dataset), headers=headers)
    assert person.status_code == 200
    listed = secured.post("/v1/grants/list", json=list_body(tiny_dataset, list_id), headers=headers)
    assert listed.status_code == 200
    assert secured.get(f"/v1/grants/lists/{list_id}", headers=headers).status_code == 200


def test_probes_docs_and_metrics_are_open(secured):
    for path in ("/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/policy"):
        assert secured.get(path).status_code == 200, path


def test_metrics_need_an_admin_key_when_not_public(store, keys, tmp_path):
    app = production_app(
        store, KeyRing.load(keys[0]), tmp_path / "audit.jsonl", metrics_public=False
    )
    with TestClient(app) as client:
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers=auth(keys[1]["policy"])).status_code == 403
        assert client.get("/metrics", headers=auth(keys[1]["admin"])).status_code == 200


def test_outside_development_the_service_refuses_to_start_without_keys(store, tmp_path):
    with pytest.raises(ConfigurationError, match="PTB_API_KEYS_FILE"):
        create_app(store, environment="production", audit=AuditLog(tmp_path / "a.jsonl"))
    with pytest.raises(ConfigurationError, match="audit log"):
        create_app(store, environment="staging", api_keys=KeyRing([]))
    with pytest.raises(ConfigurationError, match="PTB_AUDIT_KEY_FILE") as refused:
        create_app(
            store,
            environment="production",
            api_keys=KeyRing([]),
            audit=AuditLog(tmp_path / "a.jsonl"),
        )
    assert refused.value.setting == "audit_key_file"


def test_the_settings_key_the_audit_log_with_the_audit_key_file(keys, tmp_path, monkeypatch):
    key_file = write_request_key(tmp_path / "audit.key")
    for name, value in {
        "PTB_ENVIRONMENT": "production",
        "PTB_API_KEYS_FILE": str(keys[0]),
        "PTB_AUDIT_LOG": str(tmp_path / "audit.jsonl"),
        "PTB_AUDIT_KEY_FILE": str(key_file),
    }.items():
        monkeypatch.setenv(name, value)
    app = create_app_from_settings(Settings())  # not started: no registry is reached
    assert app.state.audit.request_key == read_request_key(key_file)


def test_in_development_without_keys_the_service_is_open_and_says_so_loudly(
    store, tiny_dataset, caplog
):
    with caplog.at_level(logging.WARNING, logger="serving.access.deployment"):
        app = create_app(store, load_in_background=False, freeze_gc=False)
    assert any("NO API KEYS" in r.getMessage() for r in caplog.records)
    with TestClient(app) as client:
        grant = client.post("/v1/grants/person", json=person_body(tiny_dataset))
        assert grant.status_code == 200
        assert client.post("/v1/admin/reload", json={}).status_code == 200


def test_a_revoked_key_is_refused_without_a_restart(store, tmp_path, monkeypatch):
    monkeypatch.setattr(security, "FILE_RECHECK_SECONDS", 0.0)
    path = tmp_path / "keys.yaml"
    kept = add_key(path, "kept", "payment")
    leaving = add_key(path, "leaving", "payment")
    app = production_app(store, KeyRing.load(path), tmp_path / "audit.jsonl", environment="test")
    with TestClient(app) as client:
        assert client.get("/v1/model", headers=auth(leaving)).status_code == 200
        revoke_key(path, "leaving")
        assert client.get("/v1/model", headers=auth(leaving)).status_code == 401
        assert client.get("/v1/model", headers=auth(kept)).status_code == 200
        added = add_key(path, "newcomer", "payment")
        assert client.get("/v1/model", headers=auth(added)).status_code == 200


def test_a_broken_keys_file_edit_keeps_the_previous_keys(tmp_path, monkeypatch):
    monkeypatch.setattr(security, "FILE_RECHECK_SECONDS", 0.0)
    path = tmp_path / "keys.json"
    key = add_key(path, "desk", "policy")
    ring = KeyRing.load(path)
    path.write_text("{ half written")
    assert ring.authenticate(key).role == "policy"


def test_keys_file_without_an_active_key_is_refused(tmp_path):
    path = tmp_path / "keys.json"
    add_key(path, "only", "admin")
    revoke_key(path, "only")
    with pytest.raises(KeyFileError, match="no active key"):
        KeyRing.load(path)


def test_a_verified_key_is_hashed_once_and_a_wrong_one_once(keys, monkeypatch):
    ring = KeyRing.load(keys[0])
    calls = []
    original = security.check_secret
    monkeypatch.setattr(security, "check_secret", lambda k, h: calls.append(1) or original(k, h))
    key = keys[1]["policy"]
    wrong = key[:-4] + "AAAA"
    for _ in range(3):
        assert ring.authenticate(key).key_id == "policy-desk"
        with pytest.raises(AuthenticationError):
            ring.authenticate(wrong)
    assert len(calls) == 2


def test_keys_never_reach_the_logs(secured, keys, caplog):
    key = keys[1]["admin"]
    wrong = key[:-4] + "AAAA"
    with caplog.at_level(logging.DEBUG):
        secured.get("/v1/model", headers=auth(key))
        secured.get("/v1/model", headers=auth(wrong))
        secured.get("/v1/model", headers={"Authorization": "Basic c2VjcmV0"})
    text = "\n".join(f"{r.getMessage()} {getattr(r, 'ptb', '')}" for r in caplog.records)
    assert "admin-desk" in text  # the key id is logged: who called
    assert key.split(".", 2)[2] not in text
    assert wrong.split(".", 2)[2] not in text
    audit = secured.app.state.audit.path.read_text()
    assert key.split(".", 2)[2] not in audit


def test_openapi_declares_the_bearer_scheme_on_api_routes_only(secured):
    spec = secured.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"]["ApiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "description": spec["components"]["securitySchemes"]["ApiKey"]["description"],
    }
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            guarded = bool(operation.get("security"))
            assert guarded == path.startswith("/v1/"), f"{method} {path}"
            if guarded:
                assert {"401", "403"} <= set(operation["responses"]), f"{method} {path}"


def test_a_new_api_router_is_closed_to_all_but_admin(store, keys, tmp_path):
    extra = APIRouter(prefix="/v1/extra")

    @extra.get("/ping")
    async def ping() -> dict:
        return {"pong": True}

    app = production_app(
        store, KeyRing.load(keys[0]), tmp_path / "audit.jsonl", routers=(*DEFAULT_ROUTERS, extra)
    )
    with TestClient(app) as client:
        assert client.get("/v1/extra/ping", headers=auth(keys[1]["policy"])).status_code == 403
        assert client.get("/v1/extra/ping", headers=auth(keys[1]["admin"])).status_code == 200


def test_an_api_router_added_behind_the_factory_stops_the_start(store):
    extra = APIRouter(prefix="/v1/extra")

    @extra.get("/ping")
    async def ping() -> dict:
        return {"pong": True}

    app = create_app(store, load_in_background=False, freeze_gc=False)
    app.include_router(extra)
    with pytest.raises(ConfigurationError, match="GET /v1/extra/ping"), TestClient(app):
        pass
