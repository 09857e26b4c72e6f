"""The extracts contract (version 1): what the registries deliver, declared once.

Registry extracts are events, not persons: KUHR claim lines, FLO listing periods, the population
register's persons and residence periods, and the GP lists (docs/extracts.md). Each rule here is
a column kind, bound, code pattern, reference or period rule; ``features.extracts.checks`` turns
them into SQL that DuckDB and Spark both run, because claims are tens of millions of lines a
year and are checked where they are stored, not in pandas. The reference release (kommuner,
grunnkretser) is checked by the data contract's own rules (``features.contract``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

EXTRACTS_VERSION = 1
Kind = Literal["id", "code", "text", "date", "number", "integer", "boolean"]

# ICPC-2 chapters: A general, B blood, D digestive, F eye, H ear, K circulatory, L musculoskeletal,
# N neurological, P psychological, R respiratory, S skin, T endocrine, U urology, W pregnancy,
# X female genital, Y male genital, Z social. A code is the chapter letter and two digits.
ICPC2_CHAPTERS = "ABDFHKLNPRSTUWXYZ"
ICPC2_PATTERN = rf"^[{ICPC2_CHAPTERS}][0-9]{{2}}$"
PRACTICE_FORMS = ("self_employed", "salaried")


@dataclass(frozen=True)
class Column:
    """One column of an extract: its kind, whether it may be empty, bounds and references."""

    name: str
    kind: Kind
    required: bool = True
    low: float | None = None
    high: float | None = None
    pattern: str | None = None
    pattern_text: str | None = None  # how a violation of ``pattern`` reads
    values: tuple[str, ...] = ()
    references: tuple[str, str] | None = None


@dataclass(frozen=True)
class Period:
    """A from/to pair (to inclusive, empty = open) that must not end before it starts and,
    per ``owner``, must not overlap another period of the same owner."""

    owner: str
    valid_from: str
    valid_to: str
    no_overlap: bool = True


@dataclass(frozen=True)
class Extract:
    """One table of the extracts: columns, the key shown in example rows, rules across rows."""

    name: str
    columns: tuple[Column, ...]
    example_key: tuple[str, ...]
    unique: tuple[str, ...] = ()
    period: Period | None = None
    meaning: str = field(default="", compare=False)

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


_ID = r"^[0-9A-Za-z_.:-]{1,64}$"
_ID_TEXT = "not an id (1-64 letters, digits, _ . : -)"

EXTRACTS: tuple[Extract, ...] = (
    Extract(
        "persons",
        (
            Column("person_id", "id", pattern=_ID, pattern_text=_ID_TEXT),
            Column("birth_year", "integer", low=1880, high=2100),
            Column("birth_month", "integer", low=1, high=12),
            Column("sex", "text", values=("F", "M")),
            Column("died_on", "date", required=False),
            Column("refugee_date", "date", required=False),
        ),
        example_key=("person_id",),
        unique=("person_id",),
        meaning="population register: one row per person; refugee_date is the settlement as a "
        "refugee or the arrival as an asylum seeker",
    ),
    Extract(
        "residences",
        (
            Column("person_id", "id", references=("persons", "person_id")),
            Column(
                "grunnkrets",
                "code",
                pattern=r"^[0-9]{8}$",
                pattern_text="not an 8-digit code",
                references=("grunnkretser", "grunnkrets"),
            ),
            Column("valid_from", "date"),
            Column("valid_to", "date", required=False),
        ),
        example_key=("person_id", "valid_from"),
        period=Period("person_id", "valid_from", "valid_to"),
        meaning="population register: residence periods, one row per person and period",
    ),
    Extract(
        "lists",
        (
            Column("list_id", "id", pattern=_ID, pattern_text=_ID_TEXT),
            Column(
                "practice_kommune",
                "code",
                pattern=r"^[0-9]{4}$",
                pattern_text="not a 4-digit code",
                references=("kommuner", "kommune"),
            ),
            Column("practice_form", "text", values=PRACTICE_FORMS),
            Column("list_cap", "integer", low=0, high=10_000),
            Column("agreement_start", "date"),
            Column("agreement_end", "date", required=False),
        ),
        example_key=("list_id",),
        unique=("list_id",),
        period=Period("list_id", "agreement_start", "agreement_end", no_overlap=False),
        meaning="GP register: one row per GP list (agreement)",
    ),
    Extract(
        "listings",
        (
            Column("person_id", "id", references=("persons", "person_id")),
            Column("list_id", "id", references=("lists", "list_id")),
            Column("valid_from", "date"),
            Column("valid_to", "date", required=False),
        ),
        example_key=("person_id", "valid_from"),
        period=Period("person_id", "valid_from", "valid_to"),
        meaning="GP register (FLO): listing periods, one row per person and period on a list",
    ),
    Extract(
        "claims",
        (
            # Any person id: one not in the population register is an exclusion, counted.
            Column("person_id", "id"),
            Column("claim_date", "date"),
            Column("list_id", "id", references=("lists", "list_id")),
            Column(
                "fee_code",
                "text",
                pattern=r"^[0-9A-Za-z]{1,8}$",
                pattern_text="not a fee code (1-8 letters or digits)",
            ),
            Column("reimbursed_nok", "number", low=0),
            Column("copayment_nok", "number", low=0),
            Column("frikort", "boolean"),
            Column(
                "icpc2",
                "code",
                required=False,
                pattern=ICPC2_PATTERN,
                pattern_text="not an ICPC-2 code (chapter letter and two digits)",
            ),
        ),
        example_key=("person_id", "claim_date", "fee_code"),
        meaning="KUHR: GP fee-for-service claim lines, one per fee code",
    ),
)

BY_NAME = {extract.name: extract for extract in EXTRACTS}
EXTRACT_TABLES = tuple(extract.name for extract in EXTRACTS)
REFERENCE_TABLES = ("kommuner", "grunnkretser")
