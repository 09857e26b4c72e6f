"""The service against its own OpenAPI schema, with generated requests (schemathesis).

Every operation is called with requests generated from the schema, valid and invalid, with an
admin key: no answer may be a server error or break the documented status codes, content types
and response schemas, an invalid request must be refused and an operation that declares a key
must refuse a request without one. Bounded by ``MAX_EXAMPLES`` per operation and mode, so the
whole run takes about a minute.

One check is left out: ``positive_data_acceptance`` expects every schema-valid request to be
answered 2xx, but the schema cannot say which of the 8-digit strings are real grunnkretser, nor
a scenario's rules across fields (a break point needs its rate share); those are refused with a
documented 422 naming the field.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from serving.access import KeyRing
from serving.access.attempts import FailedAttempts
from serving.model_store import ModelStore
from serving.request_bodies import DEFAULT_LIMITS, BodyLimit
from tests.serving.conftest import production_app

MAX_EXAMPLES = 100


@pytest.fixture(scope="module")
def admin_key(role_keys) -> tuple[KeyRing, str]:
    path, by_role = role_keys
    return KeyRing.load(path), by_role["admin"]


@pytest.fixture(scope="module")
def started_app(registry, snapshot, admin_key, tmp_path_factory) -> Iterator[FastAPI]:
    """The service with its snapshot and keys, started (model loaded) for the whole module."""
    store = ModelStore(registry.tracking_uri, cache_dir=tmp_path_factory.mktemp("schema-cache"))
    audit_file = tmp_path_factory.mktemp("schema-audit") / "audit.jsonl"
    # Thousands of generated wrong keys from one address: the failed-attempt limits, which
    # would answer 429 (tested in test_hostile_http.py), are lifted so each key gets its 401.
    # Likewise the body limits, which answer a generated nested body 413 before its schema
    # is checked (tested in test_hostile_http.py and test_request_bodies.py).
    unlimited = FailedAttempts(per_key_id=10**9, per_client=10**9)
    roomy = {path: BodyLimit(16 * 1024 * 1024) for path in DEFAULT_LIMITS}
    app = production_app(
        store,
        admin_key[0],
        audit_file,
        snapshot=snapshot,
        environment="test",
        key_attempts=unlimited,
        body_limits=roomy,
    )
    with TestClient(app):
        yield app


@pytest.fixture(scope="module")
def api_schema(started_app):
    return schemathesis.openapi.from_asgi("/openapi.json", started_app)


def exercise(operation, mode: GenerationMode, headers: dict[str, str]) -> None:
    """Call one operation with up to ``MAX_EXAMPLES`` generated requests and check each answer."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
    )
    def check(case) -> None:
        case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])

    try:
        check()
    except Unsatisfiable:
        if mode is GenerationMode.POSITIVE:
            raise
        # An operation without parameters or body has no invalid request to send.


def test_every_answer_keeps_to_the_schema(api_schema, admin_key, subtests):
    headers = {"Authorization": f"Bearer {admin_key[1]}"}
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 10
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            with subtests.test(operation=operation.label, mode=mode.value):
                exercise(operation, mode, headers)
