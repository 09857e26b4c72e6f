"""The keys file: salted scrypt hashes only, readable by the service's group alone, and every
malformed entry refused with its reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from features.errors import KeyFileError
from serving.access import ROLES, add_key, read_key_file
from serving.access.credentials import check_secret, hash_secret


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A keys file with one key per role; returns its path and the keys by role."""
    path = tmp_path_factory.mktemp("keys") / "api-keys.json"
    return path, {role: add_key(path, f"{role}-desk", role) for role in ROLES}


def test_the_keys_file_holds_salted_hashes_only(keys):
    path, by_role = keys
    text = path.read_text()
    records = read_key_file(path)
    assert [r.role for r in records] == list(ROLES)
    for record in records:
        key = by_role[record.role]
        assert key.split(".", 2)[2] not in text
        assert record.hash.startswith("scrypt$16384$8$1$")
        assert check_secret(key, record.hash)
        assert not check_secret(key + "x", record.hash)
    # The same key hashes differently each time: a salt per key.
    assert hash_secret("ptb.a.b") != hash_secret("ptb.a.b")
    # The service's group may read it (0640), nobody else may see or change it.
    assert path.stat().st_mode & 0o037 == 0


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"id": "desk", "role": "payment", "hash": "changeme"}, "placeholder"),
        ({"id": "desk", "role": "auditor", "hash": hash_secret("k")}, "role must be one of"),
        ({"id": "Desk Two", "role": "payment", "hash": hash_secret("k")}, "id must match"),
        ({"id": "desk", "role": "payment", "hash": "scrypt$1024$1$1$AAAA$AAAA"}, "weaker"),
    ],
)
def test_a_malformed_keys_file_is_refused_with_the_reason(tmp_path, entry, message):
    path = tmp_path / "keys.json"
    path.write_text(json.dumps({"keys": [entry]}))
    with pytest.raises(KeyFileError, match=message):
        read_key_file(path)
