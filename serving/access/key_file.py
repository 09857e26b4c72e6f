"""The keys file: read and validated whole, written whole with its ownership kept.

The file (JSON or YAML, ``PTB_API_KEYS_FILE``) holds per key its id, role, creation time,
revocation time if revoked, and its scrypt hash (``serving.access.credentials``); never a key.
A write replaces the file at once and keeps its owner, group and mode, so the service can still
read it; ``ptb keys`` adds and revokes keys here, and a running ``KeyRing`` re-reads the file.
Revoked keys stay in the file so their ids are never handed out again.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import yaml

from features import KeyFileError
from serving.access.credentials import (
    KEY_ID_PATTERN,
    ROLES,
    Role,
    hash_secret,
    is_role,
    new_key,
    stored_hash_problem,
)

NEW_KEY_FILE_MODE = 0o640  # the owner writes, the service's group reads


@dataclass(frozen=True)
class KeyRecord:
    """One key as stored: id, role, scrypt hash, when created and, if so, when revoked."""

    key_id: str
    role: Role
    hash: str
    created: str
    revoked: str | None = None

    @property
    def active(self) -> bool:
        return self.revoked is None

    def to_dict(self) -> dict:
        found = {"id": self.key_id, "role": self.role, "hash": self.hash, "created": self.created}
        return found if self.revoked is None else {**found, "revoked": self.revoked}


def read_key_file(path: str | Path) -> list[KeyRecord]:
    """Every key in a keys file; ``KeyFileError`` lists every problem found."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise KeyFileError(str(path), [f"cannot be read ({exc.strerror or exc})"]) from exc
    try:
        document = yaml.safe_load(text) if _is_yaml(path) else json.loads(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise KeyFileError(
            str(path), [f"is not valid {'YAML' if _is_yaml(path) else 'JSON'}"]
        ) from exc
    if document is None:
        document = {"keys": []}
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise KeyFileError(str(path), ['has no "keys" list'])
    records, problems, seen = [], [], set()
    for number, entry in enumerate(entries, start=1):
        where = f"key {number}"
        if not isinstance(entry, dict):
            problems.append(f"{where}: not a mapping")
            continue
        key_id = entry.get("id")
        if not isinstance(key_id, str) or not KEY_ID_PATTERN.match(key_id):
            problems.append(f"{where}: id must match {KEY_ID_PATTERN.pattern}")
            continue
        where = f"key {key_id!r}"
        if key_id in seen:
            problems.append(f"{where}: id used twice")
        seen.add(key_id)
        role = entry.get("role")
        if not is_role(role):
            problems.append(f"{where}: role must be one of {', '.join(ROLES)}")
        problem = stored_hash_problem(entry.get("hash"))
        if problem is not None:
            problems.append(f"{where}: {problem}")
        if not is_role(role) or problem is not None:
            continue
        revoked = entry.get("revoked")
        records.append(
            KeyRecord(
                key_id,
                role,
                str(entry.get("hash")),
                str(entry.get("created", "")),
                None if revoked in (None, "") else str(revoked),
            )
        )
    if problems:
        raise KeyFileError(str(path), problems)
    return records


def key_file_ownership(path: str | Path) -> tuple[int, int, int]:
    """Owner, group and mode a written keys file gets: those of the file it replaces.

    A new file is the writer's, in the directory's group (the service's group, as the
    deployment sets it up), mode 0640. Written as root, the service can still read it.
    """
    path = Path(path)
    try:
        found = path.stat()
    except FileNotFoundError:
        directory = path.parent if path.parent.exists() else Path.cwd()
        return os.geteuid(), directory.stat().st_gid, NEW_KEY_FILE_MODE
    return found.st_uid, found.st_gid, stat.S_IMODE(found.st_mode)


def write_key_file(path: str | Path, records: Iterable[KeyRecord]) -> Path:
    """Write the keys file whole or not at all, keeping its owner, group and mode."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    uid, gid, mode = key_file_ownership(path)
    document = {"keys": [record.to_dict() for record in records]}
    text = (
        yaml.safe_dump(document, sort_keys=False)
        if _is_yaml(path)
        else json.dumps(document, indent=2) + "\n"
    )
    handle, staging = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(staging, mode)
        if (uid, gid) != (os.geteuid(), os.getegid()):
            try:
                os.chown(staging, uid, gid)
            except PermissionError as exc:
                raise KeyFileError(
                    str(path),
                    [f"cannot keep its owner {uid}:{gid} (run as root or as its owner)"],
                ) from exc
        os.replace(staging, path)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise
    return path


def add_key(path: str | Path, key_id: str, role: str) -> str:
    """Create a key, store only its hash, and return the key (the one time it is seen)."""
    if not KEY_ID_PATTERN.match(key_id):
        raise KeyFileError(str(path), [f"id {key_id!r} must match {KEY_ID_PATTERN.pattern}"])
    if not is_role(role):
        raise KeyFileError(str(path), [f"role {role!r} must be one of {', '.join(ROLES)}"])
    records = read_key_file(path) if Path(path).exists() else []
    if any(record.key_id == key_id for record in records):
        raise KeyFileError(str(path), [f"id {key_id!r} exists already (ids are never reused)"])
    key = new_key(key_id)
    records.append(KeyRecord(key_id, role, hash_secret(key), _now()))
    write_key_file(path, records)
    return key


def revoke_key(path: str | Path, key_id: str) -> KeyRecord:
    """Mark a key revoked (kept, so its id is never handed out again); returns the record."""
    records = read_key_file(path)
    for position, record in enumerate(records):
        if record.key_id == key_id:
            if not record.active:
                raise KeyFileError(str(path), [f"key {key_id!r} was revoked at {record.revoked}"])
            records[position] = replace(record, revoked=_now())
            write_key_file(path, records)
            return records[position]
    known = ", ".join(r.key_id for r in records) or "none"
    raise KeyFileError(str(path), [f"no key {key_id!r} (keys: {known})"])


def _is_yaml(path: Path) -> bool:
    return path.suffix.lower() in (".yaml", ".yml")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
