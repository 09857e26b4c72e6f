"""Errors in the data: a data set or extracts against their contracts, a build, codes and
reference releases."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from features.errors.base import PtbError


@dataclass(frozen=True)
class Violation:
    """One broken rule of the data contract: where, which rule, how many rows, which rows."""

    table: str
    column: str
    rule: str
    n_rows: int
    example_rows: tuple[int, ...] = field(default_factory=tuple)

    def __str__(self) -> str:
        where = f"{self.table}.{self.column}" if self.column else self.table
        if not self.n_rows:
            return f"{where}: {self.rule}"
        rows = ", ".join(str(r) for r in self.example_rows)
        noun = "row" if self.n_rows == 1 else "rows"
        suffix = f" ({noun} {rows})" if rows else ""
        return f"{where}: {self.n_rows} {noun} {self.rule}{suffix}"


class ContractError(PtbError, ValueError):
    """A data set breaks the data contract; every violation is listed so it is fixed in one pass.

    ``table``, ``column``, ``rule``, ``n_rows`` and ``example_rows`` are the first violation's.
    """

    violations: tuple[Violation, ...]
    table: str
    column: str
    rule: str
    n_rows: int
    example_rows: tuple[int, ...]

    def __init__(self, violations: Sequence[Violation]):
        self.violations = tuple(violations)
        first = self.violations[0]
        self.table, self.column, self.rule = first.table, first.column, first.rule
        self.n_rows, self.example_rows = first.n_rows, first.example_rows
        lines = "\n".join(f"  {v}" for v in self.violations)
        super().__init__(
            f"data set breaks the data contract ({len(self.violations)} "
            f"{'rule' if len(self.violations) == 1 else 'rules'}):\n{lines}"
        )


class ExtractsError(ContractError):
    """Registry extracts break the extracts contract; every violation is listed with examples."""

    def __init__(self, violations: Sequence[Violation]):
        super().__init__(violations)
        lines = "\n".join(f"  {v}" for v in self.violations)
        n = len(self.violations)
        self.args = (
            f"extracts break the extracts contract ({n} {'rule' if n == 1 else 'rules'}):\n{lines}",
        )

    def __str__(self) -> str:
        return str(self.args[0])


class BuildError(PtbError, RuntimeError):
    """A build from extracts cannot run as asked, or its reconciliation does not add up."""


class UnknownCodeError(PtbError, KeyError):
    """A code (grunnkrets, kommune) that is not in the reference release in use."""

    field: str
    codes: tuple[str, ...]
    reference: str
    release: str | None
    message: str

    def __init__(
        self, field_name: str, codes: Sequence[str], reference: str, release: str | None = None
    ):
        self.field = field_name
        self.codes = tuple(codes)
        self.reference = reference
        self.release = release
        shown = ", ".join(self.codes[:5])
        more = f" and {len(self.codes) - 5} more" if len(self.codes) > 5 else ""
        where = f" in reference release {release}" if release else ""
        self.message = f"{field_name}: unknown {reference} {shown}{more}{where}"
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


class SplitCodeError(UnknownCodeError):
    """An old code that changed into several codes: which one a person belongs to is not
    known, so it is refused with the candidates named, never guessed."""

    candidates: tuple[str, ...]

    def __init__(
        self,
        field_name: str,
        code: str,
        candidates: Sequence[str],
        reference: str,
        release: str | None = None,
    ):
        super().__init__(field_name, [code], reference, release)
        self.candidates = tuple(candidates)
        self.message = (
            f"{field_name}: {reference} {code} was split into {', '.join(self.candidates)}"
            f"{f' (reference release {release})' if release else ''}; "
            f"give the new {reference} code"
        )
        self.args = (self.message,)


class ReleaseError(PtbError, ValueError):
    """A reference release that cannot be found or is inconsistent (``release`` names it)."""

    release: str

    def __init__(self, release: str, message: str):
        self.release = release
        super().__init__(f"reference release {release}: {message}")
