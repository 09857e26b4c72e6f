"""The audit log: one JSON line per answered API request, each chained to the one before.

A record holds when (UTC), who (the API key id, never the key), what (method, route template,
status, model version), a digest of the request (``request_hmac_sha256`` with the audit key,
see ``request_digest``) and the response size: no person data.

The chain is keyed with the audit key. Each record carries ``seq`` (its position), ``prev`` (the
link of the record before; 64 zeros for the first) and, as its last field, ``mac``: the
HMAC-SHA-256, under the audit key, of the record's bytes without ``mac``. A record's link is its
``mac``. Editing, inserting, deleting or rewriting records from any point onward cannot be
done without the key: a changed record fails its own ``mac`` and the next record's ``prev``.
Deleting the newest records is only visible against a head checkpoint kept elsewhere
(``export_checkpoint`` in ``serving.access.audit_check``, ``ptb audit checkpoint``). Without a key
(development only; production refuses to start without one) the link is a plain SHA-256 of the
line and anyone can rewrite the chain.

The file is opened in append mode; each record is one ``write`` of one line, flushed at once
(and with ``fsync=True`` forced to disk), under a thread lock and an exclusive ``flock``, so
threads and processes sharing a file keep one chain. ``append`` returns only once the record is
written, so a caller that answers after it never answers unaudited. A file moved away
(rotation) is noticed at the next record, which starts a new file and a new chain.

A torn last line (a crash in the middle of a write) is repaired when the log is opened or next
appended to: the fragment is moved to ``<log>.torn-<time>`` beside the log, the file is cut back
to its last whole record, and a ``torn_line_repaired`` record naming the saved fragment is
chained on. The torn record's request was never answered, as answers wait for their record.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from features import AuditLogError

logger = logging.getLogger(__name__)

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


MAC_FIELD = re.compile(rb',"mac":"([0-9a-f]{64})"\}\Z')


def seal(entry: dict, key: bytes | None) -> tuple[bytes, str]:
    """A record's line (without newline) and its link: ``mac`` under the key, else SHA-256."""
    body = json.dumps(entry, sort_keys=True, separators=(",", ":")).encode()
    if key is None:
        return body, hashlib.sha256(body).hexdigest()
    mac = hmac.new(key, body, "sha256").hexdigest()
    return body[:-1] + b',"mac":"' + mac.encode() + b'"}', mac


def line_hash(line: bytes) -> str:
    """The link the next record's ``prev`` must carry: the line's ``mac``, else its SHA-256."""
    line = line.rstrip(b"\n")
    found = MAC_FIELD.search(line)
    return found.group(1).decode() if found else hashlib.sha256(line).hexdigest()


def mac_is_valid(line: bytes, key: bytes) -> bool:
    """Whether the line ends in a ``mac`` that the key computes over the rest of the record."""
    found = MAC_FIELD.search(line)
    if found is None:
        return False
    expected = hmac.new(key, line[: found.start()] + b"}", "sha256").hexdigest()
    return hmac.compare_digest(expected, found.group(1).decode())


class AuditLog:
    """Append-only, hash-chained JSON lines at ``path``; thread- and process-safe appends."""

    def __init__(self, path: str | Path, request_key: bytes | None = None, fsync: bool = False):
        self.path = Path(path)
        self.request_key = request_key  # keys the chain and the request digests
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
                    self._repair_torn_tail(handle)
                    head = self._write(handle, record)
                finally:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
            except OSError as exc:
                raise self._failed(exc) from exc
            self.last_error = None
            return head

    def open(self) -> None:
        """Open (create) the file now and repair a torn last line, so a service with an
        unwritable audit log never starts and a crash's torn record is dealt with at start-up."""
        with self._lock:
            try:
                handle = self._open()
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
                try:
                    self._repair_torn_tail(handle)
                finally:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
            except OSError as exc:
                raise self._failed(exc) from exc

    def _failed(self, exc: OSError) -> AuditLogError:
        self.failures += 1
        self.last_error = f"{type(exc).__name__}: {exc}"
        self._close()
        return AuditLogError(f"audit log {self.path} cannot be written: {exc}")

    def _write(self, handle, record: dict) -> str:
        """One record appended (and synced if asked) under the caller's lock; its link."""
        prev, seq = self._tail(handle)
        entry = {"time": utc_now(), **record, "seq": seq + 1, "prev": prev}
        line, link = seal(entry, self.request_key)
        handle.write(line + b"\n")
        handle.flush()
        if self.fsync:
            os.fsync(handle.fileno())
        self._end = os.fstat(handle.fileno()).st_size
        self._head, self._seq = link, seq + 1
        self.records_written += 1
        return link

    def _repair_torn_tail(self, handle) -> None:
        """Cut a torn last line off into ``<log>.torn-<time>`` and chain a record saying so."""
        size = os.fstat(handle.fileno()).st_size
        if size == 0 or size == self._end:  # empty, or ends with the record we wrote
            return
        with open(self.path, "rb") as reader:
            reader.seek(size - 1)
            if reader.read(1) == b"\n":
                return
            keep = size - len(self._last_line(size))
            reader.seek(keep)
            fragment = reader.read(size - keep)
        stamp = utc_now().replace(":", "").replace("-", "")
        saved = self.path.with_name(f"{self.path.name}.torn-{stamp}")
        with open(os.open(saved, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
            out.write(fragment)
            out.flush()
            os.fsync(out.fileno())
        os.ftruncate(handle.fileno(), keep)
        self._end = -1
        logger.warning(
            "audit log %s: torn last line (%d bytes) moved to %s", self.path, len(fragment), saved
        )
        record = {
            "event": "torn_line_repaired",
            "torn_bytes": len(fragment),
            "saved_to": saved.name,
        }
        self._write(handle, record)

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
        if self._handle is None:
            return True
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
