"""The audit log: one JSON line per answered API request, each chained to the one before.

A record holds when (UTC), who (the API key id, never the key), what (method, route template,
status, model version), a digest of the request (``request_hmac_sha256`` with the audit key,
see ``request_digest``) and the response size: no person data. Each record carries ``prev``, the SHA-256 of the previous
line's bytes, and ``seq``, its position; the first record's ``prev`` is 64 zeros. Editing,
inserting or deleting a record breaks the chain at the next line, which ``verify`` (and
``ptb audit verify``) reports. Deleting the newest records is only visible against a head hash
kept elsewhere: ``verify`` prints the head so operators can note it.

The file is opened in append mode; each record is one ``write`` of one line, flushed at once
(and with ``fsync=True`` forced to disk before the request is answered), under a thread lock
and an exclusive ``flock``, so threads and processes sharing a file keep
one chain. A file moved away (rotation) is noticed at the next record, which starts a new file
and a new chain.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from features import AuditChainError, AuditLogError

GENESIS = "0" * 64
MIN_KEY_BYTES = 32
TAIL_BYTES = 4096  # a record is well under a kilobyte


def request_digest(
    method: str, path: str, query: bytes, body: bytes = b"", key: bytes | None = None
):
    """HMAC-SHA-256 (with the audit key) or SHA-256 over ``METHOD path?query`` and the body.

    ``update`` it with body chunks as they are read. A person's indicators are few and small,
    so a plain hash of a person request could be found by trying them all; keyed, it can only
    be recomputed by whoever holds the key: an auditor holding a request (and the key) can show
    it is the one logged, and the log alone reveals nothing of it.
    """
    prefix = f"{method} {path}?".encode() + query + b"\n"
    digest = hmac.new(key, prefix, "sha256") if key is not None else hashlib.sha256(prefix)
    digest.update(body)
    return digest


def digest_field(key: bytes | None) -> str:
    """The record field the request's digest goes in: it says which kind of digest it is."""
    return "request_hmac_sha256" if key is not None else "request_sha256"


def read_request_key(path: str | Path) -> bytes:
    """The audit key: a file holding at least 32 bytes as hex (``ptb audit new-key``)."""
    path = Path(path)
    try:
        text = path.read_text().strip()
    except OSError as exc:
        raise AuditLogError(f"audit key {path} cannot be read: {exc}") from exc
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise AuditLogError(f"audit key {path} is not hexadecimal text") from None
    if len(key) < MIN_KEY_BYTES:
        raise AuditLogError(
            f"audit key {path} holds {len(key)} bytes; at least {MIN_KEY_BYTES} are needed"
        )
    return key


def write_request_key(path: str | Path) -> Path:
    """A new random audit key in a new file only its owner may read; never overwrites one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise AuditLogError(f"audit key {path} exists already; it is never overwritten") from None
    with os.fdopen(handle, "w") as out:
        out.write(secrets.token_hex(MIN_KEY_BYTES) + "\n")
    return path


def line_hash(line: bytes) -> str:
    """The hash the next record's ``prev`` must carry: SHA-256 of the line without its newline."""
    return hashlib.sha256(line.rstrip(b"\n")).hexdigest()


class AuditLog:
    """Append-only, hash-chained JSON lines at ``path``; thread- and process-safe appends."""

    def __init__(self, path: str | Path, request_key: bytes | None = None, fsync: bool = False):
        self.path = Path(path)
        self.request_key = request_key  # keys the request digests (``request_digest``)
        self.fsync = fsync  # each record on disk before the answer, not only handed to the OS
        self._lock = threading.Lock()
        self._handle: BinaryIO | None = None
        self._end = -1  # the file size after our last append: if unchanged, _head is current
        self._head = GENESIS
        self._seq = 0
        self.records_written = 0
        self.failures = 0
        self.last_error: str | None = None

    def append(self, record: dict) -> str:
        """Write one record (``prev``, ``seq`` and ``time`` are added); returns its line hash.

        ``AuditLogError`` if the line cannot be written; the next call tries the file again.
        """
        with self._lock:
            try:
                handle = self._open()
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
                try:
                    prev, seq = self._tail(handle)
                    entry = {"time": utc_now(), **record, "seq": seq + 1, "prev": prev}
                    line = json.dumps(entry, sort_keys=True, separators=(",", ":")).encode()
                    handle.write(line + b"\n")
                    handle.flush()
                    if self.fsync:
                        os.fsync(handle.fileno())
                    self._end = os.fstat(handle.fileno()).st_size
                finally:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
            except OSError as exc:
                self.failures += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                self._close()
                raise AuditLogError(f"audit log {self.path} cannot be written: {exc}") from exc
            self._head, self._seq = line_hash(line), seq + 1
            self.records_written += 1
            self.last_error = None
            return self._head

    def open(self) -> None:
        """Open (create) the file now, so a service with an unwritable audit log never starts."""
        with self._lock:
            try:
                self._open()
            except OSError as exc:
                self._close()
                raise AuditLogError(f"audit log {self.path} cannot be written: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            self._close()

    @property
    def head(self) -> str:
        """The hash of the last record this process wrote (or of the file when opened)."""
        return self._head

    def _open(self) -> BinaryIO:
        if self._handle is not None and self._moved():
            self._close()  # rotated: the next record starts a new file and a new chain
        if self._handle is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = open(self.path, "ab")  # noqa: SIM115 - kept open between records
            os.chmod(self.path, 0o600)
            self._end = -1
        return self._handle

    def _moved(self) -> bool:
        """Whether the path no longer names the file we hold open (moved away by rotation)."""
        try:
            held = self._handle.fileno() if self._handle is not None else -1
            return os.stat(self.path).st_ino != os.fstat(held).st_ino
        except OSError:
            return True

    def _close(self) -> None:
        if self._handle is not None:
            with contextlib.suppress(OSError):
                self._handle.close()
            self._handle = None

    def _tail(self, handle) -> tuple[str, int]:
        """The last record's hash and seq: remembered, or read back if another writer appended."""
        size = os.fstat(handle.fileno()).st_size
        if size == self._end:
            return self._head, self._seq
        if size == 0:
            return GENESIS, 0
        last = self._last_line(size)
        try:
            seq = int(json.loads(last)["seq"])
        except (ValueError, KeyError, TypeError):
            # An unreadable last line stays in the chain (verify reports it); count on from it.
            seq = -1
        return line_hash(last), seq

    def _last_line(self, size: int) -> bytes:
        """The file's last line, read from the end: a few KiB, more only for a longer line.

        With several workers on one file nearly every record follows another writer's, so this
        runs once per request.
        """
        window = TAIL_BYTES
        with open(self.path, "rb") as reader:
            while True:
                start = max(0, size - window)
                reader.seek(start)
                text = reader.read(size - start).rstrip(b"\n")
                cut = text.rfind(b"\n")
                if cut >= 0 or start == 0:
                    return text[cut + 1 :]
                window *= 4


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class AuditSummary:
    """What ``verify`` found: the number of records, the head hash and the time span."""

    path: str
    records: int
    head: str
    first_time: str | None
    last_time: str | None


def verify(path: str | Path) -> AuditSummary:
    """Check every record's ``prev`` and ``seq``; ``AuditChainError`` names the first break."""
    path = Path(path)
    prev, count, first, last = GENESIS, 0, None, None
    for number, line in _lines(path):
        try:
            record = json.loads(line)
        except ValueError:
            raise AuditChainError(str(path), number, "not a JSON record") from None
        if not isinstance(record, dict):
            raise AuditChainError(str(path), number, "not a JSON object")
        if record.get("prev") != prev:
            raise AuditChainError(
                str(path),
                number,
                "prev does not match the previous record's hash: a record before it was "
                "changed, inserted or removed",
            )
        if record.get("seq") != count + 1:
            raise AuditChainError(
                str(path), number, f"seq {record.get('seq')!r} where {count + 1} was expected"
            )
        prev, count = line_hash(line), count + 1
        first = first or record.get("time")
        last = record.get("time")
    return AuditSummary(str(path), count, prev, first, last)


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise AuditChainError(str(path), 0, f"cannot be read ({exc.strerror or exc})") from exc
    with handle:
        for number, line in enumerate(handle, start=1):
            if not line.endswith(b"\n"):
                raise AuditChainError(str(path), number, "last line is incomplete")
            yield number, line.rstrip(b"\n")
