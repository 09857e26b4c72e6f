"""Hostile requests against the real service under uvicorn (production mode): what happens
before a body is read, bodies bounded while read, the audit record before the answer, and
failed key checks limited. These depend on a real server reading a real socket."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from tests.serving.conftest import list_body, person_body
from tests.serving.production_service import ProductionService, production_service
from tests.serving.raw_http import repeated, send_raw

pytestmark = pytest.mark.slow

MB = 1024 * 1024
PERSON = (
    b'{"age":44,"sex":"F","grunnkrets":"03010101","copayment_prev_year":1234.5,'
    b'"refugee_first_year":false},'
)


@pytest.fixture(scope="module")
def service(registry, tiny_dataset, tmp_path_factory):
    work = tmp_path_factory.mktemp("hostile")
    with production_service(
        registry.tracking_uri, tiny_dataset, work, PTB_AUDIT_FSYNC="true"
    ) as running:
        with httpx.Client(base_url=running.url, timeout=30) as client:
            for role in ("payment", "policy", "admin"):  # each key checked (scrypt) once
                client.get("/v1/model", headers=running.headers(role)).raise_for_status()
        yield running


def a_million_persons() -> tuple[int, object]:
    head, tail, n = b'{"practice_kommune":"0301","persons":[', b"]}", 1_000_000
    size = len(head) + len(PERSON) * n - 1 + len(tail)

    def chunks():
        yield head
        yield from repeated(PERSON, len(PERSON) * n - 1)
        yield tail

    return size, chunks


def test_without_a_key_a_huge_body_is_refused_before_it_is_read(service: ProductionService):
    before = service.rss_mb()
    size = 200 * MB
    body = [b'{"model":"'] + list(repeated(b"a", 2 * MB)) + [b'"}']  # only the first 2 MB exist
    answer = send_raw(service.port, "/v1/admin/reload", iter(body), length=size)
    assert answer.status == 401
    assert json.loads(answer.body)["error"] == "unauthorized"
    assert answer.sent_when_answered < size  # answered while the body was still on its way
    assert service.rss_mb() - before < 50


def test_invalid_json_without_a_key_is_401_not_422(service: ProductionService):
    answer = httpx.post(
        f"{service.url}/v1/whatif",
        content=b'{"dampening": 0.5,,,',
        timeout=10,
        headers={"content-type": "application/json"},
    )
    assert answer.status_code == 401
    chunked = send_raw(service.port, "/v1/grants/list", iter([b"{not json"] * 3), length=None)
    assert chunked.status == 401


def test_a_role_too_low_is_403_before_the_body_is_read(service: ProductionService):
    size = 100 * MB
    answer = send_raw(
        service.port,
        "/v1/admin/reload",
        repeated(b" ", 1 * MB),
        length=size,
        headers=service.headers("policy"),
    )
    assert answer.status == 403
    assert answer.sent_when_answered < size


def test_a_million_person_list_with_a_key_is_413_before_it_is_read(service: ProductionService):
    before = service.rss_mb()
    size, chunks = a_million_persons()
    answer = send_raw(
        service.port, "/v1/grants/list", chunks(), length=size, headers=service.headers("payment")
    )
    assert answer.status == 413
    assert "at most 4,194,304 bytes" in json.loads(answer.body)["message"]
    assert answer.sent_when_answered < size
    assert service.rss_mb() - before < 50


def test_a_chunked_million_person_list_is_413_at_its_20001st_person(service: ProductionService):
    before = service.rss_mb()
    size, chunks = a_million_persons()
    answer = send_raw(
        service.port, "/v1/grants/list", chunks(), length=None, headers=service.headers("payment")
    )
    assert answer.status == 413
    assert "at most 20,001 JSON objects" in json.loads(answer.body)["message"]
    assert answer.sent_when_answered < size / 10
    assert service.rss_mb() - before < 50
    health = httpx.get(f"{service.url}/healthz", timeout=5)
    assert health.status_code == 200


def test_a_list_within_the_limits_is_still_priced(service: ProductionService, tiny_dataset):
    list_id = str(tiny_dataset.lists["list_id"].iloc[0])
    answer = httpx.post(
        f"{service.url}/v1/grants/list",
        json=list_body(tiny_dataset, list_id),
        timeout=30,
        headers=service.headers("payment"),
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["persons"] > 0


def audit_records(service: ProductionService) -> list[dict]:
    return [json.loads(line) for line in service.audit_log.read_text().splitlines()]


def test_a_grant_is_answered_only_once_its_record_is_written(
    service: ProductionService, tiny_dataset
):
    body = person_body(tiny_dataset)
    url = f"{service.url}/v1/grants/person"
    answered = httpx.post(url, json=body, headers=service.headers("payment"), timeout=10)
    assert answered.status_code == 200
    last = audit_records(service)[-1]
    assert (last["request_id"], last["status"]) == (answered.headers["x-request-id"], 200)
    assert last["response_bytes"] == len(answered.content)
    # The log becomes unwritable: moved away, and a directory where the file was.
    moved = service.audit_log.with_name("audit.1.jsonl")
    service.audit_log.rename(moved)
    service.audit_log.mkdir()
    try:
        refused = httpx.post(url, json=body, headers=service.headers("payment"), timeout=10)
        assert refused.status_code == 503  # that very request, not the next one
        assert refused.json()["error"] == "unavailable"
        assert "grant_nok" not in refused.text
        assert str(service.audit_log.parent) not in refused.text
        assert "directory" not in refused.text.lower()
        no_key = httpx.post(url, json=body, timeout=10)
        assert no_key.status_code == 503  # a refusal is audited too, so it fails the same way
        assert str(service.audit_log) not in no_key.text
    finally:
        service.audit_log.rmdir()
    again = httpx.post(url, json=body, headers=service.headers("payment"), timeout=10)
    assert again.status_code == 200
    statuses = [r["status"] for r in audit_records(service)]
    assert statuses == [200]  # the new file: the refused requests were never answered 200
    assert refused.headers["x-request-id"] not in moved.read_text()


def test_a_burst_with_a_key_not_yet_checked_is_one_check_not_many_guesses(
    registry, tiny_dataset, tmp_path
):
    """A payment system that opens 40 connections at once, on a worker that has not seen its
    key yet: every request is answered, none refused as a guess (429)."""

    async def burst(running: ProductionService) -> list[httpx.Response]:
        async with httpx.AsyncClient(
            base_url=running.url, headers=running.headers("payment"), timeout=30
        ) as client:
            return await asyncio.gather(*(client.get("/v1/model") for _ in range(40)))

    with production_service(registry.tracking_uri, tiny_dataset, tmp_path) as running:
        answers = asyncio.run(burst(running))
    assert [a.status_code for a in answers] == [200] * 40, [a.text for a in answers][-1]


def test_failed_keys_are_rate_limited_per_key_id_with_retry_after(service: ProductionService):
    """Last in this module: it uses up the failures this address may have."""
    url = f"{service.url}/v1/model"
    wrong = {"Authorization": "Bearer ptb.settlement.this-is-not-the-secret-0000000000000"}
    statuses = []
    for attempt in range(12):
        guess = {"Authorization": wrong["Authorization"] + str(attempt)}
        statuses.append(httpx.get(url, headers=guess, timeout=10).status_code)
    assert statuses[:10] == [401] * 10
    assert statuses[10:] == [429, 429]
    limited = httpx.get(url, headers={"Authorization": wrong["Authorization"] + "x"}, timeout=10)
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert limited.json()["error"] == "too_many_requests"
    # The holder of the real key, verified before, is not locked out by the guesser.
    assert httpx.get(url, headers=service.headers("payment"), timeout=10).status_code == 200
    # Another key id from the same address: refused once the address used up its 20 failures.
    others = [
        httpx.get(url, headers={"Authorization": f"Bearer ptb.nobody{i}.x"}, timeout=10)
        for i in range(12)
    ]
    assert [o.status_code for o in others][-1] == 429
