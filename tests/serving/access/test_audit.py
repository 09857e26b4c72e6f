"""The audit log: a record per API answer, no person data, a hash chain that shows tampering."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from features.errors import AuditChainError
from features.settings import Settings
from serving.access import KeyRing, add_key
from serving.access.audit import GENESIS, AuditLog, line_hash, request_digest
from serving.access.audit_check import verify
from tests.serving.conftest import (
    AUDIT_KEY,
    list_body,
    person_body,
    production_app,
    production_client,
)

# Values no synthetic person has, so finding one in the log could only be a leak.
DISTINCT = {"age": 117, "copayment_prev_year": 4321.987, "grunnkrets": "03010101"}


@pytest.fixture(scope="module")
def keys(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    path = tmp_path_factory.mktemp("audit-keys") / "keys.json"
    return path, {
        "payment": add_key(path, "settlement", "payment"),
        "policy": add_key(path, "analyst", "policy"),
    }


@pytest.fixture(scope="module")
def audited(store, snapshot, keys, tmp_path_factory) -> Iterator[TestClient]:
    audit_file = tmp_path_factory.mktemp("audit") / "audit.jsonl"
    with production_client(store, snapshot, keys[0], audit_file) as client:
        yield client


def records(client: TestClient) -> list[dict]:
    return [json.loads(line) for line in client.app.state.audit.path.read_text().splitlines()]


def test_each_grant_answer_is_recorded_with_caller_model_and_request_hash(
    audited, keys, tiny_dataset
):
    before = len(records(audited))
    body = person_body(tiny_dataset, **DISTINCT)
    response = audited.post(
        "/v1/grants/person", json=body, headers={"Authorization": f"Bearer {keys[1]['payment']}"}
    )
    assert response.status_code == 200
    found = records(audited)[before:]
    assert len(found) == 1
    record = found[0]
    assert record["key_id"] == "settlement"
    assert record["role"] == "payment"
    assert (record["method"], record["endpoint"], record["status"]) == (
        "POST",
        "/v1/grants/person",
        200,
    )
    assert record["model_version"] == response.json()["model_version"] == "1"
    assert record["response_bytes"] == len(response.content)
    assert record["request_id"] == response.headers["x-request-id"]
    assert record["time"].endswith("Z")
    sent = response.request.content
    # Keyed: the auditor with the key recomputes it; a plain hash of the body is not logged.
    assert (
        record["request_hmac_sha256"]
        == request_digest("POST", "/v1/grants/person", b"", sent, key=AUDIT_KEY).hexdigest()
    )
    assert "request_sha256" not in record
    plain = request_digest("POST", "/v1/grants/person", b"", sent).hexdigest()
    assert plain not in audited.app.state.audit.path.read_text()


def test_list_look_ups_whatif_and_refusals_are_recorded_too(audited, keys, tiny_dataset):
    list_id = str(tiny_dataset.lists["list_id"].iloc[1])
    payment = {"Authorization": f"Bearer {keys[1]['payment']}"}
    before = len(records(audited))
    audited.get(f"/v1/grants/lists/{list_id}", headers=payment, params={"model_version": "2"})
    audited.post("/v1/whatif", json={"dampening": 0.5}, headers=payment)  # 403
    audited.post(
        "/v1/whatif",
        json={"dampening": 0.5},
        headers={"Authorization": f"Bearer {keys[1]['policy']}"},
    )
    audited.get("/v1/model")  # 401
    audited.get("/healthz")  # not an API call: not audited
    found = records(audited)[before:]
    assert [(r["endpoint"], r["status"], r["key_id"]) for r in found] == [
        ("/v1/grants/lists/{list_id}", 200, "settlement"),
        ("/v1/whatif", 403, "settlement"),
        ("/v1/whatif", 200, "analyst"),
        ("/v1/model", 401, None),
    ]
    assert found[0]["model_version"] == "2"
    assert found[2]["model_version"] == "1"
    assert list_id not in json.dumps(found)  # the path's list id is only in the hash


def test_the_audit_log_holds_no_person_data(audited, keys, tiny_dataset):
    headers = {"Authorization": f"Bearer {keys[1]['payment']}"}
    list_id = str(tiny_dataset.lists["list_id"].iloc[0])
    audited.post("/v1/grants/person", json=person_body(tiny_dataset, **DISTINCT), headers=headers)
    listed = list_body(tiny_dataset, list_id)
    listed["persons"][0].update(age=117, copayment_prev_year=4321.987)
    audited.post("/v1/grants/list", json=listed, headers=headers)
    audited.post(
        "/v1/grants/person",
        json=person_body(tiny_dataset, grunnkrets="98765432"),
        headers=headers,
    )  # 422 unknown grunnkrets
    text = audited.app.state.audit.path.read_text()
    for value in ("4321.987", "98765432", "03010101"):
        assert value not in text, value
    values = [v for record in records(audited) for v in record.values()]
    assert not {117, 4321.987, "117", "F", "M"} & {v for v in values if not isinstance(v, bool)}
    fields = set().union(*(record.keys() for record in records(audited)))
    assert fields == {
        "time",
        "seq",
        "prev",
        "mac",
        "request_id",
        "key_id",
        "role",
        "method",
        "endpoint",
        "status",
        "model_version",
        "request_hmac_sha256",
        "response_bytes",
        "duration_ms",
    }


def test_the_chain_verifies_and_each_record_names_the_one_before(audited):
    summary = verify(audited.app.state.audit.path, AUDIT_KEY)
    lines = audited.app.state.audit.path.read_bytes().splitlines()
    assert summary.records == len(lines) > 3
    assert summary.head == line_hash(lines[-1]) == audited.app.state.audit.head
    assert json.loads(lines[0])["prev"] == GENESIS
    for before, after in zip(lines, lines[1:], strict=False):
        assert json.loads(after)["prev"] == line_hash(before)


def write_chain(path: Path, n: int = 6) -> list[bytes]:
    log = AuditLog(path)
    for i in range(n):
        log.append({"endpoint": "/v1/model", "status": 200, "n": i})
    log.close()
    return path.read_bytes().splitlines(keepends=True)


@pytest.mark.parametrize(
    ("tamper", "line", "reason"),
    [
        (lambda ls: ls[:2] + [ls[2].replace(b'"status":200', b'"status":201')] + ls[3:], 4, "prev"),
        (lambda ls: ls[:2] + ls[3:], 3, "prev"),  # a record deleted
        (lambda ls: ls[:1] + [ls[2], ls[1]] + ls[3:], 2, "prev"),  # two swapped
        (lambda ls: ls[:3] + [ls[3][:-10] + b"\n"] + ls[4:], 4, "JSON"),  # a line cut
        (lambda ls: ls[:-1] + [ls[-1][:-1]], 6, "incomplete"),  # a half-written last line
    ],
)
def test_tampering_is_found_at_the_line_after_it(tmp_path, tamper, line, reason):
    path = tmp_path / "audit.jsonl"
    lines = write_chain(path)
    assert verify(path).records == 6
    path.write_bytes(b"".join(tamper(lines)))
    with pytest.raises(AuditChainError, match=reason) as caught:
        verify(path)
    assert caught.value.line == line


def test_a_rewritten_first_record_is_found(tmp_path):
    path = tmp_path / "audit.jsonl"
    lines = write_chain(path)
    forged = json.loads(lines[0])
    forged["key_id"] = "someone-else"
    lines[0] = json.dumps(forged, sort_keys=True, separators=(",", ":")).encode() + b"\n"
    path.write_bytes(b"".join(lines))
    with pytest.raises(AuditChainError, match="line 2"):
        verify(path)


def test_threads_and_writers_sharing_a_file_keep_one_chain(tmp_path):
    path = tmp_path / "audit.jsonl"
    writers = [AuditLog(path), AuditLog(path)]  # as two worker processes would

    def write(log: AuditLog, thread: int) -> None:
        for i in range(50):
            log.append({"endpoint": "/v1/grants/person", "thread": thread, "i": i})

    threads = [threading.Thread(target=write, args=(writers[t % 2], t)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    summary = verify(path)
    assert summary.records == 400
    seqs = [json.loads(line)["seq"] for line in path.read_text().splitlines()]
    assert seqs == list(range(1, 401))


def test_a_reopened_log_continues_the_chain(tmp_path):
    path = tmp_path / "audit.jsonl"
    write_chain(path, 3)
    AuditLog(path).append({"endpoint": "/v1/model"})
    assert verify(path).records == 4


def test_while_the_audit_log_fails_api_requests_are_refused(
    store, keys, tiny_dataset, tmp_path, monkeypatch
):
    app = production_app(store, KeyRing.load(keys[0]), tmp_path / "audit.jsonl")
    audit = app.state.audit
    headers = {"Authorization": f"Bearer {keys[1]['payment']}"}
    body = person_body(tiny_dataset)
    original = AuditLog._open

    def disk_full(self):
        raise OSError(28, "No space left on device")

    with TestClient(app) as client:
        assert client.post("/v1/grants/person", json=body, headers=headers).status_code == 200
        monkeypatch.setattr(AuditLog, "_open", disk_full)
        # The very request whose record fails is refused: its grant is never sent.
        refused = client.post("/v1/grants/person", json=body, headers=headers)
        assert refused.status_code == 503
        assert refused.json()["error"] == "unavailable"
        assert "grant_nok" not in refused.text
        # Nothing about the log's whereabouts or the OS error reaches the caller.
        assert str(audit.path) not in refused.text and "No space" not in refused.text
        assert client.post("/v1/grants/person", json=body, headers=headers).status_code == 503
        assert client.get("/healthz").status_code == 200
        monkeypatch.setattr(AuditLog, "_open", original)
        # Recorded again from the first request after the log works again.
        assert client.post("/v1/grants/person", json=body, headers=headers).status_code == 200
        metrics = client.get("/metrics").text
    assert "ptb_audit_write_failures_total 2.0" in metrics
    assert [json.loads(line)["status"] for line in audit.path.read_text().splitlines()] == [
        200,
        200,
    ]
    assert verify(audit.path, AUDIT_KEY).records == 2


def test_a_rotated_log_starts_a_new_chain_in_a_new_file(tmp_path):
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path)
    log.append({"endpoint": "/v1/model", "n": 1})
    log.append({"endpoint": "/v1/model", "n": 2})
    path.rename(tmp_path / "audit.1.jsonl")
    log.append({"endpoint": "/v1/model", "n": 3})
    assert verify(tmp_path / "audit.1.jsonl").records == 2
    assert verify(path).records == 1
    assert json.loads(path.read_text())["prev"] == GENESIS


@pytest.mark.parametrize("fsync", [False, True])
def test_each_record_is_forced_to_disk_only_when_asked(tmp_path, monkeypatch, fsync):
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(fd) or real_fsync(fd))
    log = AuditLog(tmp_path / "audit.jsonl", fsync=fsync)
    for status in (200, 404):
        log.append({"endpoint": "/v1/model", "status": status})
    assert len(synced) == (2 if fsync else 0)
    assert verify(log.path).records == 2


def test_the_settings_turn_fsync_on(monkeypatch):
    monkeypatch.setenv("PTB_AUDIT_FSYNC", "true")
    assert Settings().audit_fsync is True


def test_a_writer_chains_onto_another_writers_long_record(tmp_path):
    """Read back from the file's end: a last line longer than the first read still counts."""
    path = tmp_path / "audit.jsonl"
    first, second = AuditLog(path), AuditLog(path)
    first.append({"endpoint": "/v1/model", "status": 200})
    second.append({"endpoint": "/v1/model", "note": "x" * 20_000})  # far over one read
    first.append({"endpoint": "/v1/model", "status": 200})
    second.append({"endpoint": "/v1/model", "status": 200})
    summary = verify(path)
    assert summary.records == 4
    assert summary.head == second.head
