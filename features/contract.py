"""The data contract (version 1): the four tables a data set holds, read and checked as one.

A data set is a directory with ``persons``, ``lists``, ``kommuner`` and ``grunnkretser``, each a
Parquet file or a CSV file with a header. A data set that breaks a rule is refused whole with
every violation listed (table, column, rule, row count, example rows), so it is fixed in one pass.
Row numbers in messages count data rows from 1, as a spreadsheet shows them below the header.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow

from features.errors import ContractError, Violation

CONTRACT_VERSION = 1
TABLES = ("persons", "lists", "kommuner", "grunnkretser")
EXAMPLE_ROWS = 3
# Copayments at regular GPs in a year are a few thousand NOK; a bound keeps absurd amounts
# (1e300) from being priced. The API and the MLflow pyfunc apply the same bound.
MAX_COPAYMENT_NOK = 1_000_000

Kind = Literal["id", "code", "integer", "number", "boolean", "sex", "text", "choice", "date"]


@dataclass(frozen=True)
class ColumnRule:
    """One column of the contract: its kind, bounds and the table it must resolve in."""

    name: str
    kind: Kind
    digits: int | None = None
    low: float | None = None
    high: float | None = None
    unique: bool = False
    references: tuple[str, str] | None = None
    training_only: bool = False
    default: float | None = None
    optional: bool = False  # the column may be absent (added in contract 1.1)
    nullable: bool = False  # a cell may be empty, e.g. an education share SSB suppresses
    choices: tuple[str, ...] = ()


FORMS_OF_PRACTICE = ("self_employed", "salaried")
# Optional columns of the lists table: the basistilskudd's list-level rules need them
# (utjamningstilskudd: form of practice; grunntilskudd: list cap and agreement start).
LIST_FACTS = ("form_of_practice", "list_cap", "agreement_start")

COLUMNS: dict[str, tuple[ColumnRule, ...]] = {
    "persons": (
        ColumnRule("person_id", "id", unique=True),
        ColumnRule("list_id", "id", references=("lists", "list_id")),
        ColumnRule("age", "integer", low=0, high=120),
        ColumnRule("sex", "sex"),
        ColumnRule("grunnkrets", "code", digits=8, references=("grunnkretser", "grunnkrets")),
        ColumnRule("copayment_prev_year", "number", low=0, high=MAX_COPAYMENT_NOK),
        ColumnRule("refugee_first_year", "boolean"),
        ColumnRule("months_listed", "integer", low=1, high=12, training_only=True, default=12),
        ColumnRule("cost", "number", low=0, training_only=True),
    ),
    "lists": (
        ColumnRule("list_id", "id", unique=True),
        ColumnRule("practice_kommune", "code", digits=4, references=("kommuner", "kommune")),
        ColumnRule("form_of_practice", "choice", optional=True, choices=FORMS_OF_PRACTICE),
        ColumnRule("list_cap", "integer", low=0, optional=True),
        ColumnRule("agreement_start", "date", optional=True),
    ),
    "kommuner": (
        ColumnRule("kommune", "code", digits=4, unique=True),
        ColumnRule("name", "text"),
        ColumnRule("centrality", "integer", low=1, high=6),
        ColumnRule("population", "integer", low=0, optional=True),
    ),
    "grunnkretser": (
        ColumnRule("grunnkrets", "code", digits=8, unique=True),
        ColumnRule("primary_only_share", "number", low=0, high=1, nullable=True),
        ColumnRule("bydel", "code", digits=6, optional=True, nullable=True),
    ),
}

# C0 and C1 controls, DEL and the Unicode line and paragraph separators: any of them in an id or
# a code could split or forge a line of an export (a list id holding "\nFAKE,0301,...").
# The two line separators as characters, not as \u escapes: Arrow's regular expressions (RE2)
# then run the check, where an escape they do not know sends pandas to Python's, 4 times slower.
CONTROL_CHARACTERS = r"[\x00-\x1f\x7f-\x9f" + "\u2028\u2029" + "]"

_TRUE = {"true", "1", "yes", "t", "y", "ja"}
_FALSE = {"false", "0", "no", "f", "n", "nei"}


@dataclass(frozen=True)
class Dataset:
    """A data set in the contract's layout: persons on lists, lists in kommuner, grunnkretser."""

    persons: pd.DataFrame
    lists: pd.DataFrame
    kommuner: pd.DataFrame
    grunnkretser: pd.DataFrame

    def table(self, name: str) -> pd.DataFrame:
        return getattr(self, name)

    @property
    def row_counts(self) -> dict[str, int]:
        return {name: len(self.table(name)) for name in TABLES}


def _rule_columns(table: str, training: bool) -> tuple[ColumnRule, ...]:
    return tuple(c for c in COLUMNS[table] if training or not c.training_only)


def _example_rows(mask: np.ndarray) -> tuple[int, ...]:
    return tuple(int(i) + 1 for i in np.flatnonzero(mask)[:EXAMPLE_ROWS])


def _violation(table: str, column: str, rule: str, mask: np.ndarray) -> Violation | None:
    n = int(mask.sum())
    return Violation(table, column, rule, n, _example_rows(mask)) if n else None


def _coerce_column(
    table: str, rule: ColumnRule, raw: pd.Series
) -> tuple[pd.Series, Violation | None]:
    """Bring one column to its contract type; rows that cannot be read become one violation."""
    missing = raw.isna().to_numpy()
    if rule.kind in ("integer", "number"):
        values = pd.to_numeric(raw, errors="coerce")
        bad = values.isna().to_numpy() & ~missing
        if rule.kind == "integer":
            whole = values.isna() | (values == np.floor(values))
            bad |= ~whole.to_numpy()
            return values, _violation(table, rule.name, "not a whole number", bad)
        return values.astype("float64"), _violation(table, rule.name, "not a number", bad)
    if rule.kind == "boolean":
        if pd.api.types.is_bool_dtype(raw.dtype):
            return raw.astype("boolean"), None
        text = raw.astype("string").str.strip().str.lower()
        values = pd.Series(pd.NA, index=raw.index, dtype="boolean")
        values[text.isin(_TRUE).fillna(False).to_numpy()] = True
        values[text.isin(_FALSE).fillna(False).to_numpy()] = False
        bad = values.isna().to_numpy() & ~missing
        return values, _violation(table, rule.name, "not true or false", bad)
    if rule.kind == "date":
        dates = pd.to_datetime(raw, errors="coerce", format="ISO8601")
        bad = dates.isna().to_numpy() & ~missing
        return dates, _violation(table, rule.name, "not a date (YYYY-MM-DD)", bad)
    if rule.kind == "choice":
        chosen = raw.astype("string").str.strip()
        bad = (~chosen.isin(rule.choices)).fillna(False).to_numpy(dtype=bool) & ~missing
        return chosen, _violation(table, rule.name, f"not one of {', '.join(rule.choices)}", bad)
    if rule.kind == "code" and pd.api.types.is_numeric_dtype(raw.dtype):
        # A numeric code has lost its leading zeros (0301 became 301): refuse, never repair.
        rows = np.ones(len(raw), dtype=bool) & ~missing
        problem = f"stored as numbers, not as {rule.digits}-digit strings (leading zeros are lost)"
        return raw.astype("string"), _violation(table, rule.name, problem, rows)
    return raw.astype("string"), None


def _checks(rule: ColumnRule, dataset_tables: dict[str, pd.DataFrame]) -> list[pa.Check]:
    checks: list[pa.Check] = []
    if rule.kind in ("id", "code"):
        checks.append(
            pa.Check(
                lambda s: ~s.str.contains(CONTROL_CHARACTERS, regex=True).fillna(False),
                error="holds a control character (such as a line break)",
            )
        )
    if rule.digits:
        # The length and ASCII digits, not "^\d{4}$": "$" also matches before a trailing line
        # break, and "\d" takes any script's digits in Python's expressions but not in Arrow's.
        checks.append(
            pa.Check(
                lambda s, n=rule.digits: (s.str.len() == n) & s.str.fullmatch("[0-9]+"),
                error=f"not a {rule.digits}-digit code",
            )
        )
    if rule.kind == "sex":
        checks.append(pa.Check.isin(["F", "M"], error='not "F" or "M"'))
    if rule.low is not None:
        checks.append(pa.Check.ge(rule.low, error=f"below {rule.low:g}"))
    if rule.high is not None:
        checks.append(pa.Check.le(rule.high, error=f"above {rule.high:g}"))
    if rule.references:
        ref_table, ref_column = rule.references
        known = pd.Index(dataset_tables[ref_table][ref_column].astype("string").unique())
        checks.append(pa.Check(lambda s, known=known: s.isin(known), error=f"not in {ref_table}"))
    return checks


def _pandera_violations(table: str, frame: pd.DataFrame, schema: pa.DataFrameSchema) -> list:
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases
        cases = cases[cases["index"].notna()]
        found = []
        for (column, check), group in cases.groupby(["column", "check"], sort=False):
            rows = np.zeros(len(frame), dtype=bool)
            rows[frame.index.get_indexer(group["index"].astype("int64").unique())] = True
            rule = "duplicated" if check == "field_uniqueness" else check
            found.append(_violation(table, str(column), rule, rows))
        return found
    return []


def validate_dataset(dataset: Dataset, *, training: bool = False) -> Dataset:
    """Check every contract rule and return the data set with contract types and defaults.

    Raises ``ContractError`` listing every violation; nothing is returned half-checked.
    ``training`` adds the outcome columns (``cost``, ``months_listed``) to the persons rules.
    """
    violations: list[Violation | None] = []
    typed: dict[str, pd.DataFrame] = {}
    for table in TABLES:
        frame = dataset.table(table).reset_index(drop=True)
        columns: dict[str, pd.Series] = {}
        for rule in _rule_columns(table, training):
            if rule.name not in frame.columns:
                if rule.default is not None:
                    columns[rule.name] = pd.Series(rule.default, index=frame.index)
                    continue
                if rule.optional:
                    continue
                violations.append(Violation(table, rule.name, "required column is missing", 0))
                continue
            raw = frame[rule.name]
            columns[rule.name], bad_type = _coerce_column(table, rule, raw)
            violations.append(bad_type)
            if not rule.nullable:
                violations.append(_violation(table, rule.name, "is empty", raw.isna().to_numpy()))
        typed[table] = pd.DataFrame(columns, index=frame.index)
    # Values are checked even when some rows are unreadable or empty (those are skipped), so
    # every violation of a column is reported at once.
    violations += _value_violations(typed)
    found = [v for v in violations if v is not None]
    if found:
        raise ContractError(found)
    return Dataset(**{table: _finish_types(table, typed[table], training) for table in TABLES})


def _value_violations(typed: dict[str, pd.DataFrame]) -> list[Violation | None]:
    """Ranges, codes, uniqueness and references, checked once every column has its type."""
    violations: list[Violation | None] = []
    for table, frame in typed.items():
        schema = pa.DataFrameSchema(
            {
                rule.name: pa.Column(checks=_checks(rule, typed), unique=rule.unique, nullable=True)
                for rule in COLUMNS[table]
                if rule.name in frame.columns
            },
            strict=False,
        )
        violations += _pandera_violations(table, frame, schema)
    if "grunnkrets" in typed["grunnkretser"] and "kommune" in typed["kommuner"]:
        gk = typed["grunnkretser"]["grunnkrets"].str.slice(0, 4)
        known = typed["kommuner"]["kommune"]
        violations.append(
            _violation(
                "grunnkretser",
                "grunnkrets",
                "whose first 4 digits are not in kommuner",
                (~gk.isin(known)).to_numpy(dtype=bool),
            )
        )
        if "bydel" in typed["grunnkretser"]:
            bydel = typed["grunnkretser"]["bydel"]
            elsewhere = bydel.notna() & (bydel.str.slice(0, 4) != gk)
            violations.append(
                _violation(
                    "grunnkretser",
                    "bydel",
                    "whose first 4 digits are not the grunnkrets's kommune",
                    elsewhere.fillna(False).to_numpy(dtype=bool),
                )
            )
    cost = typed["persons"].get("cost")
    if cost is not None and len(cost) and bool((cost.fillna(0) == 0).all()):
        rule = "0 or missing, which is every row: there is no cost to calibrate on"
        violations.append(Violation("persons", "cost", rule, len(cost)))  # no example rows
    return violations


def _finish_types(table: str, frame: pd.DataFrame, training: bool) -> pd.DataFrame:
    out = frame.copy()
    for rule in _rule_columns(table, training):
        if rule.name not in out.columns:
            continue  # an optional column the data set does not have
        if rule.kind == "integer":
            out[rule.name] = out[rule.name].astype("int64")
        elif rule.kind == "boolean":
            out[rule.name] = out[rule.name].astype(bool)
        elif rule.kind == "date":
            if rule.name in out.columns:
                out[rule.name] = out[rule.name].astype("datetime64[ns]")
        elif rule.kind in ("id", "code", "sex", "text", "choice"):
            out[rule.name] = out[rule.name].astype(object if rule.kind == "text" else "string")
    return out


def _table_path(directory: Path, table: str) -> Path | None:
    for suffix in (".parquet", ".csv"):
        path = directory / f"{table}{suffix}"
        if path.exists():
            return path
    return None


def _read_table(path: Path) -> pd.DataFrame:
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    # Everything is read as text first so codes keep their leading zeros and bad cells are
    # reported by row instead of failing the whole read.
    return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])


def read_dataset(directory: str | Path) -> Dataset:
    """Read the four tables as they are on disk, without checking them."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ContractError([Violation(str(directory), "", "is not a directory", 0)])
    paths = {table: _table_path(directory, table) for table in TABLES}
    missing = [
        Violation(table, "", f"no {table}.parquet or .csv in {directory}", 0)
        for table, path in paths.items()
        if path is None
    ]
    if missing:
        raise ContractError(missing)
    frames: dict[str, pd.DataFrame] = {}
    for table, path in ((table, path) for table, path in paths.items() if path is not None):
        try:
            frames[table] = _read_table(path)
        except Exception as exc:  # a file that is not CSV or Parquet at all
            raise ContractError([Violation(table, "", f"cannot be read: {exc}", 0)]) from exc
    return Dataset(**frames)


def load_dataset(directory: str | Path, *, training: bool = False) -> Dataset:
    """Read and validate a data set: what ``train``, ``serve`` and ``grants`` start with."""
    return validate_dataset(read_dataset(directory), training=training)


def write_dataset(dataset: Dataset, directory: str | Path, fmt: str = "parquet") -> Path:
    """Write the four tables in the contract's layout (Parquet by default, or CSV)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    writers: dict[str, Callable[[pd.DataFrame, Path], None]] = {
        "parquet": lambda frame, path: frame.to_parquet(path, index=False),
        "csv": lambda frame, path: frame.to_csv(path, index=False),
    }
    for table in TABLES:
        writers[fmt](dataset.table(table), directory / f"{table}.{fmt}")
    return directory


def _column_bytes(column: pd.Series) -> list[bytes]:
    """A column's content as bytes, independent of how it is chunked or sliced in memory."""
    if pd.api.types.is_numeric_dtype(column.dtype) or pd.api.types.is_bool_dtype(column.dtype):
        values = column.to_numpy()
        return [str(values.dtype).encode(), np.ascontiguousarray(values).tobytes()]
    strings = pyarrow.array(column.astype("string"), type=pyarrow.large_string())
    if isinstance(strings, pyarrow.ChunkedArray):
        strings = strings.combine_chunks()
    _, offsets_buffer, data = strings.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int64)[
        strings.offset : strings.offset + len(strings) + 1
    ]
    nulls = (
        strings.is_null().to_numpy(zero_copy_only=False).tobytes() if strings.null_count else b""
    )
    return [
        b"text",
        (offsets - offsets[0]).tobytes(),
        data[offsets[0] : offsets[-1]].to_pybytes(),
        nulls,
    ]


def fingerprint(dataset: Dataset) -> str:
    """A SHA-256 over every table's content, so a run names exactly the data it was trained on.

    Columns are hashed in name order, so column order does not change the fingerprint.
    """
    digest = hashlib.sha256()
    for table in TABLES:
        frame = dataset.table(table)
        digest.update(f"{table}:{len(frame)}".encode())
        for name in sorted(map(str, frame.columns)):
            digest.update(name.encode())
            for part in _column_bytes(frame[name]):
                digest.update(part)
    return digest.hexdigest()
