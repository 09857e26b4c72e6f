"""The build's lineage: a fingerprint of the extracts it read, written beside the data set.

``build.json`` names the extracts (path and SHA-256 of every file read), the outcome year and
reference date, the engine and the rules' digest. Its ``fingerprint`` digests the inputs (files
and parameters), so a model whose training logs it traces back to the exact extracts.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

LINEAGE_FILE = "build.json"
_CHUNK = 8 << 20


def file_digest(path: Path) -> str:
    """SHA-256 of one file's bytes, read in chunks so a claims file never sits in memory."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def digest_files(root: Path, paths: Sequence[Path]) -> dict[str, str]:
    """Every file's SHA-256 by its path relative to the extracts directory."""
    return {str(p.relative_to(root)): file_digest(p) for p in sorted(paths)}


@dataclass(frozen=True)
class Lineage:
    """Where a built data set came from."""

    fingerprint: str
    extracts: str
    files: dict[str, str]
    year: int
    reference_date: str
    engine: str
    rules_digest: str
    extracts_version: int
    built_at: str

    @classmethod
    def of(
        cls,
        extracts: Path,
        files: Mapping[str, str],
        *,
        year: int,
        reference_date: dt.date,
        engine: str,
        rules_digest: str,
        extracts_version: int,
    ) -> Lineage:
        inputs = {"files": dict(sorted(files.items())), "year": year}
        inputs["reference_date"] = reference_date.isoformat()
        fingerprint = hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()
        return cls(
            fingerprint=fingerprint,
            extracts=str(extracts.resolve()),
            files=dict(sorted(files.items())),
            year=year,
            reference_date=reference_date.isoformat(),
            engine=engine,
            rules_digest=rules_digest,
            extracts_version=extracts_version,
            built_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        )

    def write(self, directory: Path) -> Path:
        path = directory / LINEAGE_FILE
        path.write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")
        return path


def read_lineage(directory: str | Path) -> Lineage | None:
    """The lineage written beside a data set by ``ptb build``, or None for any other data set."""
    path = Path(directory) / LINEAGE_FILE
    if not path.is_file():
        return None
    return Lineage(**json.loads(path.read_text(encoding="utf-8")))
