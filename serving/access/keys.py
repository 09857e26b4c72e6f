"""The key check at request time: which caller a presented API key belongs to.

scrypt (``serving.access.credentials``) costs tens of milliseconds by design, so a key that
verified once is remembered by its SHA-256 (memory only) until the keys file changes; the file
(``serving.access.key_file``) is re-read within a second of a change, so ``ptb keys revoke``
takes effect without a restart. Hashing runs on the key ring's own few threads behind a bounded
queue, and an unknown key id is checked against a decoy hash, so that wrong keys can neither
take the service's threads nor find key ids by timing. Keys are never logged.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from features import AuthenticationError, KeyFileError, TooManyKeyChecksError
from serving.access.credentials import SECRET_BYTES, Role, check_secret, hash_secret, key_id_of
from serving.access.key_file import KeyRecord, read_key_file

logger = logging.getLogger(__name__)

FILE_RECHECK_SECONDS = 1.0
REMEMBERED_KEYS = 4096
PARALLEL_CHECKS = 2  # scrypt checks at once: a flood of wrong keys cannot take every core
QUEUED_CHECKS = 64  # unverified keys waiting for a hashing thread; beyond that, refused at once


@cache
def _decoy_hash() -> str:
    """A stored hash no key matches: an unknown key id is checked against it, so it costs as
    much time as a known id with a wrong secret and key ids cannot be found by timing."""
    return hash_secret(secrets.token_urlsafe(SECRET_BYTES))


@dataclass(frozen=True)
class Caller:
    """Who is calling: the key id (None when the service runs open) and its role."""

    key_id: str | None
    role: Role


OPEN_CALLER = Caller(None, "admin")


class KeyRing:
    """The active keys of a keys file, re-read when the file changes; thread-safe."""

    def __init__(self, records: Iterable[KeyRecord], *, path: str | Path | None = None):
        self.path = Path(path) if path is not None else None
        self._lock = threading.Lock()
        self._checks = threading.BoundedSemaphore(PARALLEL_CHECKS)
        self._hashers = ThreadPoolExecutor(PARALLEL_CHECKS, thread_name_prefix="ptb-key-check")
        self._queued = 0
        _decoy_hash()  # at start-up, not in the first request with an unknown key id
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
            stored = record.hash if record is not None else _decoy_hash()
            matches = check_secret(key, stored) and record is not None
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

    async def authenticate_off_loop(self, key: str | None) -> Caller:
        """``authenticate`` on the key ring's own hashing threads, never the pool that runs
        the routes: wrong keys can keep those threads busy, not the service. Past
        ``QUEUED_CHECKS`` waiting keys, a key is refused at once (``busy``) instead of queued."""
        if self._queued >= QUEUED_CHECKS:
            raise TooManyKeyChecksError(
                "busy",
                "too many API keys are being checked at once; try again shortly",
                retry_after=1,
            )
        self._queued += 1  # only the event loop's thread counts, so no lock is needed
        try:
            return await asyncio.wrap_future(self._hashers.submit(self.authenticate, key))
        finally:
            self._queued -= 1

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
