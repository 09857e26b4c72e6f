"""API keys and roles: keys hashed at rest, checked in constant time, never logged.

A key reads ``ptb.<key id>.<secret>``: the id says which stored hash to check, so a request costs
one hash at most, and the secret is 43 characters of ``secrets.token_urlsafe(32)`` (256 bits).
The keys file (JSON or YAML, ``PTB_API_KEYS_FILE``) holds per key its id, role, creation time,
revocation time if revoked, and ``scrypt$N$r$p$<salt>$<hash>``: scrypt with a per-key random
salt. Nothing in it lets a reader call the API.

Roles are ranked: ``payment`` reads grants and the model; ``policy`` may also run what-if;
``admin`` may also reload the serving model. scrypt costs tens of milliseconds by design, so a
key that verified once is remembered by its SHA-256 (memory only) until the file changes; the
file is re-read within a second of a change, so ``ptb keys revoke`` takes effect without a
restart.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import stat
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, TypeGuard

import yaml

from features import AuthenticationError, KeyFileError

logger = logging.getLogger(__name__)

Role = Literal["payment", "policy", "admin"]
ROLES: tuple[Role, ...] = ("payment", "policy", "admin")  # each may do what those before may
ROLE_RANK = {role: rank for rank, role in enumerate(ROLES)}
KEY_PREFIX = "ptb"
KEY_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
SECRET_BYTES = 32
# scrypt at 16 MiB and about 50 ms per check: slow for a guesser, cheap once cached.
SCRYPT_N, SCRYPT_R, SCRYPT_P, SCRYPT_DKLEN = 2**14, 8, 1, 32
SCRYPT_MAXMEM = 64 * 1024 * 1024
FILE_RECHECK_SECONDS = 1.0
NEW_KEY_FILE_MODE = 0o640  # the owner writes, the service's group reads
REMEMBERED_KEYS = 4096
PARALLEL_CHECKS = 2  # scrypt checks at once: a flood of wrong keys cannot take every core


def is_role(value: object) -> TypeGuard[Role]:
    """Whether ``value`` names one of the roles."""
    return value in ROLES


def allows(role: str, required: str) -> bool:
    """Whether a key of ``role`` may use an endpoint that needs ``required``."""
    rank = {str(name): position for name, position in ROLE_RANK.items()}
    return rank.get(role, -1) >= rank[required]


def hash_secret(key: str, *, salt: bytes | None = None) -> str:
    """The stored form of a key: ``scrypt$N$r$p$<salt b64>$<hash b64>``."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(
        key.encode(),
        salt=salt,
        n=SCRYPT_N,
        r=SCRYPT_R,
        p=SCRYPT_P,
        dklen=SCRYPT_DKLEN,
        maxmem=SCRYPT_MAXMEM,
    )
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def check_secret(key: str, stored: str) -> bool:
    """Whether ``key`` hashes to ``stored``; constant-time comparison of the digests."""
    try:
        scheme, n, r, p, salt, expected = stored.split("$")
        if scheme != "scrypt":
            return False
        want = _unb64(expected)
        digest = hashlib.scrypt(
            key.encode(),
            salt=_unb64(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(want),
            maxmem=SCRYPT_MAXMEM,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(digest, want)


def stored_hash_problem(stored: object) -> str | None:
    """Why a stored hash cannot be a real one (a placeholder, another scheme), or None."""
    if not isinstance(stored, str):
        return "hash is not a string"
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        return "hash is not of the form scrypt$N$r$p$salt$hash (a placeholder?)"
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, digest = _unb64(parts[4]), _unb64(parts[5])
    except ValueError:
        return "hash has a malformed parameter, salt or digest"
    if n < 2**14 or n & (n - 1) or r < 8 or p < 1 or len(salt) < 16 or len(digest) < 32:
        return "hash parameters are weaker than scrypt N=16384, r=8, 16-byte salt, 32-byte digest"
    return None


def new_key(key_id: str) -> str:
    """A fresh random key for ``key_id``: shown once, never stored."""
    return f"{KEY_PREFIX}.{key_id}.{secrets.token_urlsafe(SECRET_BYTES)}"


def key_id_of(key: str) -> str | None:
    """The key id a presented key names, or None if it is not of our form."""
    parts = key.split(".", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or not parts[2]:
        return None
    return parts[1] if KEY_ID_PATTERN.match(parts[1]) else None


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


@dataclass(frozen=True)
class Caller:
    """Who is calling: the key id (None when the service runs open) and its role."""

    key_id: str | None
    role: Role


OPEN_CALLER = Caller(None, "admin")


# -- the keys file --------------------------------------------------------------------------------


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


# -- checking a presented key ---------------------------------------------------------------------


class KeyRing:
    """The active keys of a keys file, re-read when the file changes; thread-safe."""

    def __init__(self, records: Iterable[KeyRecord], *, path: str | Path | None = None):
        self.path = Path(path) if path is not None else None
        self._lock = threading.Lock()
        self._checks = threading.BoundedSemaphore(PARALLEL_CHECKS)
        self._file_stamp: tuple | None = None
        self._generation = 0
        self.reload_error: str | None = None  # why the file changed but could not be re-read
        self.reload_failures = 0  # changes of the file that could not be re-read, in all
        self._install(list(records), self._stamp())
        self._checked_at = time.monotonic()

    @classmethod
    def load(cls, path: str | Path) -> KeyRing:
        """The keys of a file; refuses a file without one active key."""
        records = read_key_file(path)
        if not any(record.active for record in records):
            raise KeyFileError(str(path), ["has no active key; add one with `ptb keys add`"])
        return cls(records, path=path)

    @property
    def key_ids(self) -> list[str]:
        return sorted(self._records)

    def role_of(self, key_id: str) -> Role | None:
        record = self._records.get(key_id)
        return None if record is None else record.role

    def authenticate(self, key: str | None) -> Caller:
        """The caller a presented key belongs to; ``AuthenticationError`` if none.

        Blocking when the key was not seen before (scrypt): call it from a worker thread.
        """
        self.refresh()
        if not key:
            raise AuthenticationError(
                "missing", "an API key is required: send 'Authorization: Bearer <key>'"
            )
        fingerprint = hashlib.sha256(key.encode()).digest()
        known = self._known.get(fingerprint)
        if known is not None:
            return known
        if fingerprint in self._refused:
            raise _invalid()
        key_id = key_id_of(key)
        if key_id is None:
            raise AuthenticationError(
                "malformed", "the API key is not of the form ptb.<key id>.<secret>"
            )
        record = self._records.get(key_id)
        generation = self._generation
        with self._checks:
            matches = record is not None and check_secret(key, record.hash)
        caller = Caller(key_id, record.role) if matches and record is not None else None
        with self._lock:
            if generation != self._generation:  # the file changed meanwhile: check again
                return self.authenticate(key)
            if caller is not None:
                self._known[fingerprint] = caller
            else:
                self._refused[fingerprint] = None
            for remembered in (self._known, self._refused):
                while len(remembered) > REMEMBERED_KEYS:
                    remembered.popitem(last=False)
        if caller is None:
            raise _invalid()
        return caller

    def cached(self, key: str | None) -> Caller | None:
        """The caller of a key that verified before, without hashing or blocking; else None."""
        if not key:
            return None
        self.refresh()
        return self._known.get(hashlib.sha256(key.encode()).digest())

    def refresh(self) -> None:
        """Re-read the keys file if it changed (checked at most once a second)."""
        if self.path is None or time.monotonic() - self._checked_at < FILE_RECHECK_SECONDS:
            return
        with self._lock:
            if time.monotonic() - self._checked_at < FILE_RECHECK_SECONDS:
                return
            self._checked_at = time.monotonic()
            stamp = self._stamp()
            if stamp == self._file_stamp:
                return
            try:
                records = read_key_file(self.path)
            except KeyFileError as exc:
                # Keep the keys we have: a half-edited file must not open or close the service;
                # but say so where it is seen (/readyz, the metric), until the file is fixed.
                logger.error("API keys file not reloaded, keeping the previous keys: %s", exc)
                self._file_stamp = stamp
                if self.reload_error is None:
                    self.reload_failures += 1
                self.reload_error = str(exc)
                return
            self._install(records, stamp)
            logger.warning(
                "API keys file %s reloaded: %d active keys", self.path, len(self._records)
            )

    def _install(self, records: list[KeyRecord], stamp: tuple | None) -> None:
        self._records = {record.key_id: record for record in records if record.active}
        self._known: OrderedDict[bytes, Caller] = OrderedDict()
        self._refused: OrderedDict[bytes, None] = OrderedDict()
        self._file_stamp = stamp
        self._generation += 1
        self.reload_error = None

    def _stamp(self) -> tuple | None:
        if self.path is None:
            return None
        try:
            found = self.path.stat()
        except OSError:
            return None
        # ctime too: a chown or chmod that makes the file readable again is a change.
        return (found.st_mtime_ns, found.st_ctime_ns, found.st_size, found.st_ino)


def _invalid() -> AuthenticationError:
    return AuthenticationError("invalid", "the API key is not valid (unknown, revoked or wrong)")


def _is_yaml(path: Path) -> bool:
    return path.suffix.lower() in (".yaml", ".yml")


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
