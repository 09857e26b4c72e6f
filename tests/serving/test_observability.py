"""/metrics in Prometheus format, one JSON log line per request, and no person data in logs."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from serving.access import KeyRing
from serving.observability import JsonFormatter
from tests.serving.conftest import list_body, person_body, production_app


@pytest.fixture(scope="module")
def key(role_keys) -> tuple[KeyRing, str]:
    path, by_role = role_keys
    return KeyRing.load(path), by_role["admin"]


@pytest.fixture(scope="module")
def watched(store, snapshot, key, tmp_path_factory) -> Iterator[TestClient]:
    audit_file = tmp_path_factory.mktemp("obs-audit") / "audit.jsonl"
    app = production_app(store, key[0], audit_file, snapshot=snapshot)
    with TestClient(app, headers={"Authorization": f"Bearer {key[1]}"}) as client:
        yield client


def samples(client: TestClient) -> dict[tuple[str, tuple], float]:
    """Every sample of /metrics as (name, sorted labels) -> value."""
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    found = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def count(found: dict, route: str, method: str, status: str) -> float:
    labels = (("method", method), ("route", route), ("status", status))
    return found.get(("ptb_http_requests_total", labels), 0.0)


def test_requests_are_counted_by_route_template_method_and_status(watched, tiny_dataset):
    list_id = str(tiny_dataset.lists["list_id"].iloc[3])
    before = samples(watched)
    watched.post("/v1/grants/person", json=person_body(tiny_dataset))
    watched.post("/v1/grants/person", json=person_body(tiny_dataset, age=130))
    watched.get(f"/v1/grants/lists/{list_id}")
    watched.get("/v1/grants/lists/NO-SUCH-LIST")
    watched.get("/no/such/path")
    after = samples(watched)
    for route, method, status in [
        ("/v1/grants/person", "POST", "200"),
        ("/v1/grants/person", "POST", "422"),
        ("/v1/grants/lists/{list_id}", "GET", "200"),
        ("/v1/grants/lists/{list_id}", "GET", "404"),
        ("unmatched", "GET", "404"),
    ]:
        assert count(after, route, method, status) - count(before, route, method, status) == 1
    assert not any(list_id in str(labels) for _, labels in after)
    bucket = (
        "ptb_http_request_duration_seconds_count",
        (("method", "POST"), ("route", "/v1/grants/person")),
    )
    assert after[bucket] - before.get(bucket, 0) == 2


def test_the_serving_model_reloads_and_audit_writes_are_exposed(watched):
    found = samples(watched)
    info = [labels for (name, labels) in found if name == "ptb_serving_model_info"]
    assert dict(info[0])["version"] == "1"
    assert dict(info[0])["name"] == "model_2026"
    assert found[("ptb_serving_model_version", ())] == 1.0
    assert found[("ptb_serving_ready", ())] == 1.0
    assert found[("ptb_audit_records_total", ())] > 0
    assert ("process_resident_memory_bytes", ()) in found
    watched.post("/v1/admin/reload", json={"model": "champion"})
    reloads = samples(watched)[
        ("ptb_model_reloads_total", (("outcome", "unchanged"), ("trigger", "admin")))
    ]
    assert reloads == 1.0


class NotTheTestClient(logging.Filter):
    """The test's HTTP client (httpx) logs the URLs it calls; the service is what is tested."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.name.startswith(("httpx", "httpcore"))


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """Everything the service logs at DEBUG and above, as it writes it: JSON lines."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(NotTheTestClient())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def test_one_json_line_per_request_with_route_status_duration_key_and_model(
    watched, tiny_dataset, json_log
):
    list_id = str(tiny_dataset.lists["list_id"].iloc[2])
    watched.post(
        "/v1/grants/person", json=person_body(tiny_dataset), headers={"X-Request-ID": "req-42"}
    )
    watched.get(f"/v1/grants/lists/{list_id}", params={"model_version": "2"})
    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    requests = [line for line in lines if line.get("event") == "request"]
    assert len(requests) == 2
    person, listed = requests
    assert person["request_id"] == "req-42"
    assert (person["route"], person["method"], person["status"]) == (
        "/v1/grants/person",
        "POST",
        200,
    )
    assert (person["key_id"], person["model_version"]) == ("operator", "1")
    assert person["duration_ms"] > 0 and person["response_bytes"] > 0
    assert person["logger"] == "ptb.access" and person["level"] == "INFO"
    assert (listed["route"], listed["model_version"]) == ("/v1/grants/lists/{list_id}", "2")
    assert list_id not in json_log.getvalue()


def test_logs_never_hold_person_fields(watched, tiny_dataset, json_log, caplog):
    """Distinctive values in every person field; none may appear in any log record."""
    caplog.set_level(logging.DEBUG)
    odd = {
        "age": 117,
        "copayment_prev_year": 7777.123,
        "refugee_first_year": True,
    }
    list_id = str(tiny_dataset.lists["list_id"].iloc[0])
    watched.post("/v1/grants/person", json=person_body(tiny_dataset, **odd))
    listed = list_body(tiny_dataset, list_id)
    for person in listed["persons"][:3]:
        person.update(odd)
    watched.post("/v1/grants/list", json=listed)
    # Refused requests carry person values too: an unknown grunnkrets, an age out of range.
    watched.post("/v1/grants/person", json=person_body(tiny_dataset, grunnkrets="98765432"))
    watched.post("/v1/grants/person", json=person_body(tiny_dataset, age=-6543))
    bad = list_body(tiny_dataset, list_id)
    bad["persons"][0]["grunnkrets"] = "98765433"
    bad["persons"][1]["copayment_prev_year"] = -7777.5
    watched.post("/v1/grants/list", json=bad)
    logged = json_log.getvalue() + "\n".join(
        f"{r.getMessage()} {getattr(r, 'ptb', '')} {r.exc_text or ''}"
        for r in caplog.records
        if NotTheTestClient().filter(r)
    )
    assert "/v1/grants/person" in logged  # the requests were logged ...
    for value in ("7777.123", "7777.5", "98765432", "98765433", "-6543"):
        assert value not in logged, value  # ... and none of their persons' values
    grunnkretser = {p["grunnkrets"] for p in listed["persons"]}
    assert not any(code in logged for code in grunnkretser)
    # The age (117) is too short to search for as text: no logged field holds it or any field.
    for line in json_log.getvalue().splitlines():
        record = json.loads(line)
        assert not {"age", "sex", "grunnkrets", "copayment_prev_year", "persons"} & set(record)
        assert 117 not in record.values()


def test_a_request_id_is_returned_and_a_hostile_one_replaced(watched):
    assert (
        watched.get("/healthz", headers={"X-Request-ID": "abc-1"}).headers["x-request-id"]
        == "abc-1"
    )
    replaced = watched.get("/healthz", headers={"X-Request-ID": "a\nforged log line"})
    assert replaced.headers["x-request-id"] != "a\nforged log line"
    assert len(replaced.headers["x-request-id"]) == 32
