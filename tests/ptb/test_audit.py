"""``ptb audit verify|checkpoint|new-key|digest`` on temporary files."""

from __future__ import annotations

from pathlib import Path

import pytest

from features.errors import AuditLogError
from serving.access.audit import AuditLog, read_request_key, request_digest, write_request_key


def keyed_log(tmp_path: Path) -> tuple[AuditLog, Path]:
    """An audit log sealed with a fresh key, as the service writes it; and the key's file."""
    key_file = write_request_key(tmp_path / "audit.key")
    return AuditLog(tmp_path / "audit.jsonl", request_key=read_request_key(key_file)), key_file


def test_audit_verify_reports_an_intact_log_and_its_head(ptb, tmp_path):
    log, key_file = keyed_log(tmp_path)
    for status in (200, 200, 404):
        log.append({"endpoint": "/v1/grants/person", "status": status})
    result = ptb("audit", "verify", "--file", str(log.path), "--key-file", str(key_file))
    assert result.exit_code == 0, result.output
    assert "intact: 3 records" in result.stdout
    assert "sealed with the audit key" in result.stdout
    assert log.head in result.stdout


def test_audit_verify_needs_the_key(ptb, tmp_path):
    log, _ = keyed_log(tmp_path)
    log.append({"endpoint": "/v1/model", "status": 200})
    result = ptb("audit", "verify", "--file", str(log.path))
    assert result.exit_code == 1
    assert "give the audit key" in result.stderr
    unkeyed = ptb("audit", "verify", "--file", str(log.path), "--unkeyed")
    assert unkeyed.exit_code == 1
    assert "line 1" in unkeyed.stderr and "verify needs that key" in unkeyed.stderr


def test_audit_verify_exits_1_naming_the_broken_line(ptb, tmp_path):
    log, key_file = keyed_log(tmp_path)
    for status in (200, 200, 200, 200):
        log.append({"endpoint": "/v1/grants/person", "status": status})
    lines = log.path.read_text().splitlines()
    lines[1] = lines[1].replace('"status":200', '"status":500')
    log.path.write_text("\n".join(lines) + "\n")
    result = ptb("audit", "verify", "--file", str(log.path), "--key-file", str(key_file))
    assert result.exit_code == 1
    assert "line 2" in result.stderr
    assert "mac does not match" in result.stderr


def test_audit_verify_reads_the_settings_paths(ptb, tmp_path, monkeypatch):
    log, key_file = keyed_log(tmp_path)
    log.append({"endpoint": "/v1/model", "status": 200})
    monkeypatch.setenv("PTB_AUDIT_LOG", str(log.path))
    monkeypatch.setenv("PTB_AUDIT_KEY_FILE", str(key_file))
    result = ptb("audit", "verify")
    assert result.exit_code == 0, result.output
    assert "intact: 1 records" in result.stdout


def test_an_unkeyed_development_log_verifies_only_when_asked(ptb, tmp_path):
    path = tmp_path / "audit.jsonl"
    AuditLog(path).append({"endpoint": "/v1/model", "status": 200})
    result = ptb("audit", "verify", "--file", str(path), "--unkeyed")
    assert result.exit_code == 0, result.output
    assert "UNKEYED" in result.stdout


def test_a_checkpoint_is_exported_and_shows_records_removed_from_the_end(ptb, tmp_path):
    log, key_file = keyed_log(tmp_path)
    for status in (200, 200, 200):
        log.append({"endpoint": "/v1/model", "status": status})
    out = tmp_path / "head.json"
    key = ("--key-file", str(key_file))
    made = ptb("audit", "checkpoint", "--file", str(log.path), "--out", str(out), *key)
    assert made.exit_code == 0, made.output
    assert "record 3" in made.stdout
    again = ptb("audit", "checkpoint", "--file", str(log.path), "--out", str(out), *key)
    assert again.exit_code == 1 and "never overwritten" in again.stderr
    log.append({"endpoint": "/v1/model", "status": 200})
    check = ("audit", "verify", "--file", str(log.path), "--checkpoint", str(out), *key)
    held = ptb(*check)
    assert held.exit_code == 0, held.output
    assert "holds checkpoint record 3" in held.stdout
    lines = log.path.read_bytes().splitlines(keepends=True)
    log.path.write_bytes(b"".join(lines[:2]))  # the newest two records removed
    cut = ptb(*check)
    assert cut.exit_code == 1
    assert "records were removed from the end" in cut.stderr
    assert ptb("audit", "verify", "--file", str(log.path), *key).exit_code == 0  # chain alone


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
