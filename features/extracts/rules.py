"""The build rules: SQL files shipped with the package, run in order by any engine.

Each file in ``features/extracts/sql`` is one named step (the file name without its number);
its first line says whether the engine keeps the result (``-- keep``) or evaluates it where it
is used (``-- view``). Parameters are dates and years computed here, so no date arithmetic in
SQL differs between engines.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from importlib import resources

from features.errors import BuildError


@dataclass(frozen=True)
class Step:
    """One build rule: its name (the table it makes), whether it is kept, and its SQL."""

    name: str
    keep: bool
    sql: str


@dataclass(frozen=True)
class BuildParameters:
    """Outcome year T and the reference date (default 31 December of T)."""

    year: int
    reference_date: dt.date

    @classmethod
    def for_year(cls, year: int, reference_date: dt.date | None = None) -> BuildParameters:
        if not 1900 < year < 2200:
            raise BuildError(f"outcome year {year} is not a plausible year")
        reference = reference_date or dt.date(year, 12, 31)
        if reference.year != year:
            raise BuildError(
                f"the reference date {reference} must lie in the outcome year {year}, "
                "so every person of the data set is listed at least one month of it"
            )
        return cls(year, reference)

    def values(self) -> dict[str, str | int]:
        """The placeholders the SQL files use."""
        reference = self.reference_date
        try:
            window_start = reference.replace(year=reference.year - 1)
        except ValueError:  # 29 February
            window_start = reference.replace(year=reference.year - 1, day=28)
        return {
            "year": self.year,
            "reference_date": reference.isoformat(),
            "reference_year": reference.year,
            "reference_month": reference.month,
            "refugee_window_start": window_start.isoformat(),
            "year_start": dt.date(self.year, 1, 1).isoformat(),
            "year_end": dt.date(self.year, 12, 31).isoformat(),
            "previous_year_start": dt.date(self.year - 1, 1, 1).isoformat(),
        }


def steps() -> list[Step]:
    """The build's SQL steps in order."""
    folder = resources.files("features.extracts").joinpath("sql")
    found = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".sql"):
            continue
        text = entry.read_text(encoding="utf-8")
        first = text.splitlines()[0].strip()
        if first not in ("-- keep", "-- view"):
            raise BuildError(f"{entry.name}: first line must be '-- keep' or '-- view'")
        name = entry.name.removesuffix(".sql").split("_", 1)[1]
        found.append(Step(name, first == "-- keep", text))
    return found


def rules_digest() -> str:
    """A SHA-256 over the rules, recorded with every build so a data set names its rules."""
    digest = hashlib.sha256()
    for step in steps():
        digest.update(step.name.encode() + b"\0" + step.sql.encode())
    return digest.hexdigest()


def render(step: Step, parameters: BuildParameters) -> str:
    return step.sql.format(**parameters.values())
