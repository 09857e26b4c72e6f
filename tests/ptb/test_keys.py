"""``ptb keys add|list|revoke`` on temporary files."""

from __future__ import annotations

import pytest

from serving.access import KeyRing, read_key_file


def test_add_prints_the_key_once_and_stores_only_its_hash(ptb, tmp_path):
    path = tmp_path / "keys.json"
    result = ptb("keys", "add", "--id", "settlement", "--role", "payment", "--file", str(path))
    assert result.exit_code == 0, result.output
    key = result.stdout.strip()
    assert key.startswith("ptb.settlement.")
    assert "shown this once" in result.stderr
    assert key not in path.read_text()
    assert key.split(".", 2)[2] not in path.read_text()
    assert KeyRing.load(path).authenticate(key).role == "payment"
    listed = ptb("keys", "list", "--file", str(path))
    assert listed.exit_code == 0
    assert "settlement" in listed.stdout and "payment" in listed.stdout
    assert "scrypt" not in listed.stdout


def test_the_keys_file_comes_from_the_settings(ptb, tmp_path, monkeypatch):
    path = tmp_path / "keys.yaml"
    monkeypatch.setenv("PTB_API_KEYS_FILE", str(path))
    assert ptb("keys", "add", "--id", "ops", "--role", "admin").exit_code == 0
    assert [r.key_id for r in read_key_file(path)] == ["ops"]
    monkeypatch.delenv("PTB_API_KEYS_FILE")
    missing = ptb("keys", "list")
    assert missing.exit_code == 1
    assert "PTB_API_KEYS_FILE" in missing.stderr


def test_revoke_keeps_the_id_and_refuses_its_reuse(ptb, tmp_path):
    path = str(tmp_path / "keys.json")
    key = ptb("keys", "add", "--id", "analyst", "--role", "policy", "--file", path).stdout.strip()
    assert ptb("keys", "add", "--id", "ops", "--role", "admin", "--file", path).exit_code == 0
    revoked = ptb("keys", "revoke", "analyst", "--file", path)
    assert revoked.exit_code == 0, revoked.output
    assert "revoked key 'analyst'" in revoked.stdout
    with pytest.raises(Exception, match="not valid"):
        KeyRing.load(path).authenticate(key)
    again = ptb("keys", "add", "--id", "analyst", "--role", "policy", "--file", path)
    assert again.exit_code == 1
    assert "never reused" in again.stderr
    assert ptb("keys", "revoke", "nobody", "--file", path).exit_code == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--id", "x", "--role", "superuser"), "role 'superuser' must be one of"),
        (("--id", "Not An Id", "--role", "admin"), "must match"),
    ],
)
def test_add_refuses_a_bad_role_or_id(ptb, tmp_path, args, message):
    result = ptb("keys", "add", *args, "--file", str(tmp_path / "keys.json"))
    assert result.exit_code == 1
    assert message in result.stderr
    assert not (tmp_path / "keys.json").exists()
