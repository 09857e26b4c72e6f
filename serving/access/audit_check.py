"""Checking the audit log: the keyed chain record by record, and head checkpoints.

``verify`` walks a log and names the first line that breaks the chain. With the audit key it
also checks every record's ``mac``, so a tail rewritten by someone without the key is found;
without the key a keyed log is refused rather than half-checked. A *head checkpoint*
(``export_checkpoint``) notes the newest record's ``seq`` and link, sealed with the key; kept
apart from the log (another machine, the auditors' mail), it shows when records were later
removed from the end, which no chain can show by itself.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from features import AuditChainError
from serving.access.audit import GENESIS, MAC_FIELD, line_hash, mac_is_valid, seal, utc_now


@dataclass(frozen=True)
class AuditSummary:
    """What ``verify`` found: the number of records, the head link, the time span, the kind."""

    path: str
    records: int
    head: str
    first_time: str | None
    last_time: str | None
    keyed: bool


@dataclass(frozen=True)
class Checkpoint:
    """The head of a log at one moment: its last ``seq`` and that record's link."""

    log: str
    seq: int
    head: str
    time: str | None
    exported: str


def verify(
    path: str | Path, key: bytes | None = None, checkpoint: Checkpoint | None = None
) -> AuditSummary:
    """Check every record's ``prev``, ``seq`` and (with the key) ``mac``.

    ``AuditChainError`` names the first broken line. A log sealed with a key is refused
    without it; with the key, an unsealed record is refused (the seal could have been
    stripped). With a ``checkpoint`` the log must still hold that record with that link.
    """
    path = Path(path)
    where = str(path)
    prev, count, first, last = GENESIS, 0, None, None
    for number, line in _lines(path):
        record = _record(where, number, line)
        sealed = MAC_FIELD.search(line) is not None
        if key is None and sealed:
            raise AuditChainError(
                where, number, "the record is sealed with the audit key: verify needs that key"
            )
        if key is not None and not mac_is_valid(line, key):
            raise AuditChainError(
                where,
                number,
                "mac does not match: the record was changed, or written without the audit key",
            )
        if record.get("prev") != prev:
            raise AuditChainError(
                where,
                number,
                "prev does not match the previous record's link: a record before it was "
                "changed, inserted or removed",
            )
        if record.get("seq") != count + 1:
            raise AuditChainError(
                where, number, f"seq {record.get('seq')!r} where {count + 1} was expected"
            )
        prev, count = line_hash(line), count + 1
        if checkpoint is not None and count == checkpoint.seq and prev != checkpoint.head:
            raise AuditChainError(
                where, number, f"differs from the checkpoint exported {checkpoint.exported}"
            )
        first = first or record.get("time")
        last = record.get("time")
    if checkpoint is not None and count < checkpoint.seq:
        raise AuditChainError(
            where,
            count,
            f"the log ends at record {count} but the checkpoint exported {checkpoint.exported} "
            f"names record {checkpoint.seq}: records were removed from the end",
        )
    return AuditSummary(where, count, prev, first, last, keyed=key is not None)


def export_checkpoint(path: str | Path, key: bytes, out: str | Path) -> Checkpoint:
    """Verify the log with the key and write its head, sealed with the key, to a new file."""
    summary = verify(path, key)
    checkpoint = Checkpoint(
        log=Path(path).name,
        seq=summary.records,
        head=summary.head,
        time=summary.last_time,
        exported=utc_now(),
    )
    line, _ = seal(vars(checkpoint), key)
    with Path(out).open("xb") as handle:  # never overwrites an earlier checkpoint
        handle.write(line + b"\n")
    return checkpoint


def read_checkpoint(path: str | Path, key: bytes) -> Checkpoint:
    """A checkpoint file, its seal checked with the key (``AuditChainError`` if it fails)."""
    path = Path(path)
    try:
        line = path.read_bytes().rstrip(b"\n")
    except OSError as exc:
        raise AuditChainError(str(path), 0, f"cannot be read ({exc.strerror or exc})") from exc
    if not mac_is_valid(line, key):
        raise AuditChainError(str(path), 1, "checkpoint's mac does not match the audit key")
    fields = _record(str(path), 1, line)
    fields.pop("mac", None)
    try:
        return Checkpoint(**fields)
    except TypeError as exc:
        raise AuditChainError(str(path), 1, f"not a checkpoint ({exc})") from None


def _record(where: str, number: int, line: bytes) -> dict:
    try:
        record = json.loads(line)
    except ValueError:
        raise AuditChainError(where, number, "not a JSON record") from None
    if not isinstance(record, dict):
        raise AuditChainError(where, number, "not a JSON object")
    return record


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise AuditChainError(str(path), 0, f"cannot be read ({exc.strerror or exc})") from exc
    with handle:
        for number, line in enumerate(handle, start=1):
            if not line.endswith(b"\n"):
                raise AuditChainError(
                    str(path), number, "last line is incomplete (torn by a crash while written)"
                )
            yield number, line.rstrip(b"\n")
