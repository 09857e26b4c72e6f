"""The keyed audit chain: what someone without the audit key cannot rewrite, torn last lines
repaired at start-up, and head checkpoints that show records removed from the end."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import pytest

from features.errors import AuditChainError
from serving.access.audit import GENESIS, AuditLog, seal
from serving.access.audit_check import export_checkpoint, read_checkpoint, verify
from tests.serving.conftest import AUDIT_KEY

OTHER_KEY = bytes.fromhex("a7" * 32)


def keyed_chain(path: Path, n: int = 6) -> list[bytes]:
    log = AuditLog(path, request_key=AUDIT_KEY)
    for i in range(n):
        log.append({"endpoint": "/v1/grants/person", "status": 200, "n": i})
    log.close()
    return path.read_bytes().splitlines()


def rewrite_from(lines: list[bytes], start: int, edit, key: bytes | None) -> list[bytes]:
    """Rewrite records ``start``.. (0-based) as a forger would: edited, re-chained, re-sealed."""
    out = lines[:start]
    prev = json.loads(lines[start - 1])["mac"] if start else GENESIS
    for line in lines[start:]:
        record = json.loads(line)
        record.pop("mac", None)
        record = edit(record)
        record["prev"] = prev
        body, prev = seal(record, key)
        out.append(body)
    return out


def test_a_keyed_chain_verifies_only_with_its_key(tmp_path):
    path = tmp_path / "audit.jsonl"
    lines = keyed_chain(path)
    assert all(b'"mac":"' in line for line in lines)
    summary = verify(path, AUDIT_KEY)
    assert (summary.records, summary.keyed) == (6, True)
    assert summary.head == json.loads(lines[-1])["mac"]
    with pytest.raises(AuditChainError, match="verify needs that key"):
        verify(path)
    with pytest.raises(AuditChainError, match="mac does not match") as caught:
        verify(path, OTHER_KEY)
    assert caught.value.line == 1


@pytest.mark.parametrize("start", [0, 3, 5])
def test_a_tail_rewritten_without_the_key_fails(tmp_path, start):
    """Every record from ``start`` on edited and re-chained under a guessed key."""
    path = tmp_path / "audit.jsonl"
    lines = keyed_chain(path)
    forged = rewrite_from(lines, start, lambda r: {**r, "status": 201}, OTHER_KEY)
    path.write_bytes(b"\n".join(forged) + b"\n")
    with pytest.raises(AuditChainError, match="mac does not match") as caught:
        verify(path, AUDIT_KEY)
    assert caught.value.line == start + 1


def test_a_tail_rebuilt_as_an_unkeyed_chain_fails(tmp_path):
    """Seals stripped and the chain recomputed with plain SHA-256, as the old chain allowed."""
    path = tmp_path / "audit.jsonl"
    lines = keyed_chain(path)
    forged = rewrite_from(lines, 2, lambda r: {**r, "key_id": "someone"}, None)
    path.write_bytes(b"\n".join(forged) + b"\n")
    with pytest.raises(AuditChainError, match="mac does not match") as caught:
        verify(path, AUDIT_KEY)
    assert caught.value.line == 3


def test_the_newest_record_alone_cannot_be_changed(tmp_path):
    path = tmp_path / "audit.jsonl"
    lines = keyed_chain(path)
    lines[-1] = lines[-1].replace(b'"status":200', b'"status":500')
    path.write_bytes(b"\n".join(lines) + b"\n")
    with pytest.raises(AuditChainError, match="mac does not match") as caught:
        verify(path, AUDIT_KEY)
    assert caught.value.line == 6


def test_the_mac_covers_the_record_as_written(tmp_path):
    path = tmp_path / "audit.jsonl"
    line = keyed_chain(path, 1)[0]
    body, mac = line.rsplit(b',"mac":"', 1)
    expected = hmac.new(AUDIT_KEY, body + b"}", hashlib.sha256).hexdigest()
    assert mac == expected.encode() + b'"}'


def test_a_torn_last_line_is_repaired_at_start_up(tmp_path):
    path = tmp_path / "audit.jsonl"
    lines = keyed_chain(path, 3)
    torn = b'{"endpoint":"/v1/grants/person","key_id":"settl'
    with path.open("ab") as out:
        out.write(torn)  # the write a crash interrupted
    with pytest.raises(AuditChainError, match="incomplete"):
        verify(path, AUDIT_KEY)
    log = AuditLog(path, request_key=AUDIT_KEY)
    log.open()  # as the service does when it starts
    saved = list(tmp_path.glob("audit.jsonl.torn-*"))
    assert [p.read_bytes() for p in saved] == [torn]
    assert saved[0].stat().st_mode & 0o777 == 0o600
    repaired = path.read_bytes().splitlines()
    assert repaired[:3] == lines
    note = json.loads(repaired[3])
    assert note["event"] == "torn_line_repaired"
    assert (note["torn_bytes"], note["saved_to"], note["seq"]) == (len(torn), saved[0].name, 4)
    log.append({"endpoint": "/v1/model", "status": 200})
    assert verify(path, AUDIT_KEY).records == 5


def test_a_torn_line_left_by_another_writer_is_repaired_before_the_next_record(tmp_path):
    path = tmp_path / "audit.jsonl"
    mine, crashed = AuditLog(path, request_key=AUDIT_KEY), AuditLog(path, request_key=AUDIT_KEY)
    mine.append({"endpoint": "/v1/model", "n": 1})
    crashed.append({"endpoint": "/v1/model", "n": 2})
    with path.open("ab") as out:
        out.write(b'{"endpoint":"/v1/mo')  # a sibling worker died mid-write
    mine.append({"endpoint": "/v1/model", "n": 3})
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r.get("n", r.get("event")) for r in records] == [1, 2, "torn_line_repaired", 3]
    assert verify(path, AUDIT_KEY).records == 4


def test_a_checkpoint_shows_records_removed_from_the_end(tmp_path):
    path = tmp_path / "audit.jsonl"
    lines = keyed_chain(path, 4)
    checkpoint = export_checkpoint(path, AUDIT_KEY, tmp_path / "head.json")
    assert (checkpoint.seq, checkpoint.head) == (4, json.loads(lines[-1])["mac"])
    AuditLog(path, request_key=AUDIT_KEY).append({"endpoint": "/v1/model"})
    kept = read_checkpoint(tmp_path / "head.json", AUDIT_KEY)
    assert kept == checkpoint
    assert verify(path, AUDIT_KEY, kept).records == 5
    path.write_bytes(b"\n".join(lines[:3]) + b"\n")  # the newest two records deleted
    assert verify(path, AUDIT_KEY).records == 3  # the chain alone cannot tell
    with pytest.raises(AuditChainError, match="removed from the end"):
        verify(path, AUDIT_KEY, kept)


def test_a_forged_checkpoint_is_refused(tmp_path):
    path = tmp_path / "audit.jsonl"
    keyed_chain(path, 2)
    export_checkpoint(path, AUDIT_KEY, tmp_path / "head.json")
    text = (tmp_path / "head.json").read_text().replace('"seq":2', '"seq":1')
    (tmp_path / "head.json").write_text(text)
    with pytest.raises(AuditChainError, match="checkpoint's mac"):
        read_checkpoint(tmp_path / "head.json", AUDIT_KEY)
