"""Code changes between reference releases: old kommune and grunnkrets numbers mapped to new.

SSB renumbers: kommuner were merged in 2020, three counties were split again on 1 January 2024
(so every kommune of Viken, Vestfold og Telemark and Troms og Finnmark got a new number) and
Haram was split out of Ålesund. A correspondence table holds one row per old -> new pair with
the date of the change. An old code with one successor is priced under it; an old code with
several successors (a split) is refused with the candidates named, never guessed. A grunnkrets
whose kommune was renumbered keeps its last four digits (SSB's practice), so it follows its
kommune's change without a row of its own.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from importlib import resources
from pathlib import Path

import pandas as pd

from features.errors import ReleaseError, SplitCodeError

SHIPPED_CHANGES = "code_changes_2024.csv"
COLUMNS = ("kind", "old", "new", "valid_from")
DIGITS = {"kommune": 4, "grunnkrets": 8}
MAX_STEPS = 16  # a chain of renumberings longer than this is a cycle in the table


@dataclass(frozen=True)
class CodeChange:
    """One old code priced under its new code, as an answer reports it."""

    field: str
    old: str
    new: str
    valid_from: str


@dataclass(frozen=True)
class CodeChanges:
    """The correspondence table: columns ``kind`` (kommune or grunnkrets), ``old``, ``new``,
    ``valid_from`` (ISO date of the change)."""

    table: pd.DataFrame

    @classmethod
    def empty(cls) -> CodeChanges:
        return cls(pd.DataFrame({column: pd.Series(dtype=object) for column in COLUMNS}))

    @classmethod
    def shipped(cls) -> CodeChanges:
        """The changes shipped with the package: the 2024 kommune changes."""
        source = resources.files("features").joinpath("reference", SHIPPED_CHANGES)
        with source.open("rb") as handle:
            return cls.from_frame(pd.read_csv(handle, dtype=str), SHIPPED_CHANGES)

    @classmethod
    def read(cls, path: str | Path) -> CodeChanges:
        return cls.from_frame(pd.read_csv(path, dtype=str, keep_default_na=False), str(path))

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, source: str) -> CodeChanges:
        """Check every row (kind, code digits, date) and keep the four columns."""
        missing = [column for column in COLUMNS if column not in frame.columns]
        if missing:
            raise ReleaseError(source, f"code changes lack column(s) {', '.join(missing)}")
        table = frame[list(COLUMNS)].astype(str).apply(lambda column: column.str.strip())
        problems = []
        for row, change in enumerate(table.itertuples(index=False), start=1):
            digits = DIGITS.get(change.kind)
            if digits is None:
                problems.append(f"row {row}: kind {change.kind!r} is not kommune or grunnkrets")
                continue
            for code in (change.old, change.new):
                if len(code) != digits or not code.isdigit():
                    problems.append(f"row {row}: {code!r} is not a {digits}-digit {change.kind}")
            try:
                date.fromisoformat(change.valid_from)
            except ValueError:
                problems.append(f"row {row}: valid_from {change.valid_from!r} is not a date")
        if problems:
            raise ReleaseError(source, "bad code changes: " + "; ".join(problems[:5]))
        return cls(table.drop_duplicates(ignore_index=True))

    def combined(self, other: CodeChanges) -> CodeChanges:
        """Both tables as one (a data set's own changes on top of the shipped ones)."""
        table = pd.concat([self.table, other.table], ignore_index=True)
        return CodeChanges(table.drop_duplicates(ignore_index=True))

    @cached_property
    def successors(self) -> dict[tuple[str, str], tuple[tuple[str, str], ...]]:
        """(kind, old) -> the (new, valid_from) pairs it changed into."""
        found: dict[tuple[str, str], list[tuple[str, str]]] = {}
        rows = zip(*(self.table[column].astype(str) for column in COLUMNS), strict=True)
        for kind, old, new, valid_from in rows:
            found.setdefault((kind, old), []).append((new, valid_from))
        return {key: tuple(sorted(value)) for key, value in found.items()}

    def resolve(
        self, kind: str, code: str, known: Collection[str], *, field: str, release: str
    ) -> tuple[str, str] | None:
        """The code in force in the release for an old ``code``, and the date of the change.

        ``None`` when no change is recorded (the code is then simply unknown). A code that was
        split raises ``SplitCodeError`` naming the candidates.
        """
        current, when = code, ""
        for _ in range(MAX_STEPS):
            if current in known and current != code:
                return current, when
            step = self._step(kind, current, known, field=field, release=release)
            if step is None:
                return None
            current, when = step[0], step[1]
        raise ReleaseError(release, f"code changes for {kind} {code} form a cycle")

    def _step(
        self, kind: str, code: str, known: Collection[str], *, field: str, release: str
    ) -> tuple[str, str] | None:
        following = self.successors.get((kind, code))
        if following is None and kind == "grunnkrets":
            return self._grunnkrets_by_kommune(code, known, field=field, release=release)
        if following is None:
            return None
        if len(following) > 1:
            raise SplitCodeError(field, code, [new for new, _ in following], kind, release)
        return following[0]

    def _grunnkrets_by_kommune(
        self, code: str, known: Collection[str], *, field: str, release: str
    ) -> tuple[str, str] | None:
        """A grunnkrets of a renumbered kommune keeps its last four digits under the new one."""
        following = self.successors.get(("kommune", code[:4]))
        if following is None:
            return None
        candidates = [(new + code[4:], when) for new, when in following]
        present = [candidate for candidate in candidates if candidate[0] in known]
        if len(present) == 1:
            return present[0]
        if len(following) > 1:
            named = [new for new, _ in (present or candidates)]
            raise SplitCodeError(field, code, named, "grunnkrets", release)
        return candidates[0]

    def mapping(
        self, kind: str, codes: Iterable[str], known: Collection[str], *, field: str, release: str
    ) -> dict[str, CodeChange]:
        """For every code not in ``known`` that a recorded change resolves: its change."""
        found: dict[str, CodeChange] = {}
        for code in codes:
            if code in known or code in found:
                continue
            resolved = self.resolve(kind, code, known, field=field, release=release)
            if resolved is not None:
                found[code] = CodeChange(field, code, resolved[0], resolved[1])
        return found
