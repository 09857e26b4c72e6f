"""``ptb audit verify|new-key|digest`` on temporary files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from features.errors import AuditLogError
from serving.access.audit import AuditLog, read_request_key, request_digest


def test_audit_verify_reports_an_intact_log_and_its_head(ptb, tmp_path):
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path)
    for status in (200, 200, 404):
        log.append({"endpoint": "/v1/grants/person", "status": status})
    result = ptb("audit", "verify", "--file", str(path))
    assert result.exit_code == 0, result.output
    assert "intact: 3 records" in result.stdout
    assert log.head in result.stdout


def test_audit_verify_exits_1_naming_the_broken_line(ptb, tmp_path):
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path)
    for status in (200, 200, 200, 200):
        log.append({"endpoint": "/v1/grants/person", "status": status})
    lines = path.read_text().splitlines()
    record = json.loads(lines[1])
    record["status"] = 500
    lines[1] = json.dumps(record, sort_keys=True, separators=(",", ":"))
    path.write_text("\n".join(lines) + "\n")
    result = ptb("audit", "verify", "--file", str(path))
    assert result.exit_code == 1
    assert "line 3" in result.stderr
    assert "changed, inserted or removed" in result.stderr


def test_audit_verify_reads_the_settings_path(ptb, tmp_path, monkeypatch):
    path: Path = tmp_path / "var" / "audit.jsonl"
    AuditLog(path).append({"endpoint": "/v1/model", "status": 200})
    monkeypatch.setenv("PTB_AUDIT_LOG", str(path))
    result = ptb("audit", "verify")
    assert result.exit_code == 0
    assert "intact: 1 records" in result.stdout


def test_new_audit_key_is_private_and_never_overwritten(ptb, tmp_path):
    path = tmp_path / "secrets" / "audit.key"
    result = ptb("audit", "new-key", "--out", str(path))
    assert result.exit_code == 0, result.output
    assert path.stat().st_mode & 0o777 == 0o600
    assert len(read_request_key(path)) == 32
    before = path.read_text()
    again = ptb("audit", "new-key", "--out", str(path))
    assert again.exit_code == 1
    assert "never overwritten" in again.stderr
    assert path.read_text() == before


def test_audit_digest_matches_the_record_of_a_request(ptb, tmp_path, monkeypatch):
    """An auditor holding a request and the key finds its record; without the key, nothing."""
    key_file = tmp_path / "audit.key"
    assert ptb("audit", "new-key", "--out", str(key_file)).exit_code == 0
    body = tmp_path / "request.json"
    body.write_bytes(b'{"age": 44, "sex": "F", "grunnkrets": "03010101"}')
    digest = request_digest(
        "POST", "/v1/grants/person", b"", body.read_bytes(), key=read_request_key(key_file)
    )
    monkeypatch.setenv("PTB_AUDIT_KEY_FILE", str(key_file))
    result = ptb(
        "audit", "digest", "--method", "post", "--path", "/v1/grants/person", "--body", str(body)
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"request_hmac_sha256: {digest.hexdigest()}"
    monkeypatch.delenv("PTB_AUDIT_KEY_FILE")
    unkeyed = ptb(
        "audit", "digest", "--method", "POST", "--path", "/v1/grants/person", "--body", str(body)
    )
    assert unkeyed.stdout.startswith("request_sha256: ")
    assert digest.hexdigest() not in unkeyed.stdout


@pytest.mark.parametrize(
    ("content", "problem"),
    [("ab" * 16, "holds 16 bytes"), ("not a key", "not hexadecimal"), ("", "holds 0 bytes")],
)
def test_a_weak_or_malformed_audit_key_is_refused(tmp_path, content, problem):
    path = tmp_path / "audit.key"
    path.write_text(content)
    with pytest.raises(AuditLogError, match=problem):
        read_request_key(path)
