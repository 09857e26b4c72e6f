"""The extracts contract as SQL: typed views and one counting pass per table, for any engine.

Each rule of ``features.extracts.contract`` becomes one boolean column of a ``checked_<table>``
view; a single aggregate counts them all, and only a broken rule costs a second query for its
example rows. The SQL is the same for DuckDB and Spark: the engines differ in how they read
files and keep tables, never in the rules.
"""

from __future__ import annotations

from dataclasses import dataclass

from features.errors import ExtractsError, Violation
from features.extracts.contract import BY_NAME, EXTRACTS, Column, Extract
from features.extracts.engines.base import Engine

EXAMPLE_ROWS = 3
OPEN_END = "DATE '9999-12-31'"

_SQL_TYPES = {
    "id": "STRING",
    "code": "STRING",
    "text": "STRING",
    "date": "DATE",
    "number": "DECIMAL(18,2)",
    "boolean": "BOOLEAN",
}
_TYPE_RULES = {
    "date": "not a date (YYYY-MM-DD)",
    "number": "not a number",
    "integer": "not a whole number",
    "boolean": "not true or false",
}


@dataclass(frozen=True)
class ExtractViolation(Violation):
    """A broken extracts rule with example rows shown by their content (key and value)."""

    examples: tuple[str, ...] = ()

    def __str__(self) -> str:
        where = f"{self.table}.{self.column}" if self.column else self.table
        if not self.n_rows:
            return f"{where}: {self.rule}"
        noun = "row" if self.n_rows == 1 else "rows"
        shown = f" (e.g. {'; '.join(self.examples)})" if self.examples else ""
        return f"{where}: {self.n_rows:,} {noun} {self.rule}{shown}"


@dataclass(frozen=True)
class Check:
    """One rule as a boolean SQL expression over the checked view (true = the row breaks it)."""

    column: str
    rule: str
    predicate: str


def _typed(column: Column, present: bool) -> str:
    """The column in its contract type; a cell that does not convert becomes NULL."""
    if not present:
        sql_type = "BIGINT" if column.kind == "integer" else _SQL_TYPES[column.kind]
        return f"CAST(NULL AS {sql_type}) AS {column.name}"
    raw = column.name
    if column.kind == "integer":
        # Through a decimal, so "1.5" is refused the same way by every engine (no rounding).
        number = f"TRY_CAST({raw} AS DECIMAL(18,6))"
        whole = f"CASE WHEN {number} = FLOOR({number}) THEN {number} END"
        return f"CAST({whole} AS BIGINT) AS {raw}"
    return f"TRY_CAST({raw} AS {_SQL_TYPES[column.kind]}) AS {raw}"


def typed_view_sql(extract: Extract, present: set[str]) -> str:
    """``x_<table>``: the contract's columns in their types, plus each raw cell."""
    typed = [_typed(c, c.name in present) for c in extract.columns]
    # The raw cell as delivered (text in a CSV, typed in Parquet): the checks only ask whether
    # it is there, so nothing is formatted as text unless it is shown as an example.
    raw = [
        f"{c.name} AS raw__{c.name}"
        if c.name in present
        else f"CAST(NULL AS STRING) AS raw__{c.name}"
        for c in extract.columns
    ]
    return f"SELECT {', '.join(typed + raw)} FROM raw_{extract.name}"  # nosec B608: the product's own SQL and identifiers, no user text


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def column_checks(column: Column) -> list[Check]:
    """The per-cell rules of one column, in the order a person fixing the file reads them."""
    name, checks = column.name, []
    if column.required:
        checks.append(Check(name, "is empty", f"raw__{name} IS NULL"))
    if column.kind in _TYPE_RULES:
        checks.append(
            Check(name, _TYPE_RULES[column.kind], f"raw__{name} IS NOT NULL AND {name} IS NULL")
        )
    if column.low is not None:
        checks.append(Check(name, f"below {column.low:g}", f"{name} < {column.low:g}"))
    if column.high is not None:
        checks.append(Check(name, f"above {column.high:g}", f"{name} > {column.high:g}"))
    if column.pattern:
        text = column.pattern_text or f"not matching {column.pattern}"
        checks.append(Check(name, text, f"NOT regexp_like({name}, {_quoted(column.pattern)})"))
    if column.values:
        listed = ", ".join(_quoted(v) for v in column.values)
        shown = " or ".join(f'"{v}"' for v in column.values)
        checks.append(Check(name, f"not {shown}", f"{name} NOT IN ({listed})"))
    if column.references:
        table, _ = column.references
        checks.append(Check(name, f"not in {table}", f"{name} IS NOT NULL AND ref__{name} IS NULL"))
    return checks


def table_checks(extract: Extract) -> list[Check]:
    checks = [check for column in extract.columns for check in column_checks(column)]
    for key in extract.unique:
        checks.append(Check(key, "duplicated", f"{key} IS NOT NULL AND dup__{key} > 1"))
    period = extract.period
    if period:
        start, end = period.valid_from, period.valid_to
        checks.append(Check(end, f"before {start} (ends before it starts)", f"{end} < {start}"))
        if period.no_overlap:
            checks.append(
                Check(
                    start,
                    f"overlapping an earlier period of the same {period.owner}",
                    f"{start} <= previous_end__",
                )
            )
    return checks


def checked_view_sql(extract: Extract) -> str:
    """``checked_<table>``: the typed rows with reference look-ups and window facts joined."""
    columns, joins = ["t.*"], []
    for column in extract.columns:
        if column.references:
            table, key = column.references
            source = f"x_{table}" if table in BY_NAME else table
            alias = f"ref_{column.name}"
            joins.append(
                f"LEFT JOIN (SELECT DISTINCT {key} AS k FROM {source}) {alias} "  # nosec B608: the product's own SQL and identifiers, no user text
                f"ON t.{column.name} = {alias}.k"
            )
            columns.append(f"{alias}.k AS ref__{column.name}")
    for key in extract.unique:
        columns.append(f"COUNT(*) OVER (PARTITION BY t.{key}) AS dup__{key}")
    period = extract.period
    if period and period.no_overlap:
        # The latest end of every earlier period of the same owner: a period that starts on or
        # before it overlaps one of them (ends are inclusive, an empty end is open).
        columns.append(
            f"MAX(COALESCE(t.{period.valid_to}, {OPEN_END})) OVER (PARTITION BY t.{period.owner} "
            f"ORDER BY t.{period.valid_from} NULLS LAST, t.{period.valid_to} NULLS LAST "
            "ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS previous_end__"
        )
    return f"SELECT {', '.join(columns)} FROM x_{extract.name} t {' '.join(joins)}"  # nosec B608: the product's own SQL and identifiers, no user text


def _examples(engine: Engine, extract: Extract, check: Check) -> tuple[str, ...]:
    shown = list(dict.fromkeys([*extract.example_key, check.column]))
    order = ", ".join(f"raw__{c} NULLS LAST" for c in extract.example_key)
    rows = engine.fetch(
        f"SELECT {', '.join(f'TRY_CAST(raw__{c} AS STRING) AS raw__{c}' for c in shown)} "  # nosec B608: the product's own SQL and identifiers, no user text
        f"FROM checked_{extract.name} WHERE {check.predicate} ORDER BY {order} LIMIT {EXAMPLE_ROWS}"
    )
    return tuple(
        ", ".join(f"{c}={'' if row[f'raw__{c}'] is None else row[f'raw__{c}']}" for c in shown)
        for row in rows.astype(object).where(rows.notna(), None).to_dict("records")
    )


def violations_of(engine: Engine, extract: Extract) -> list[Violation]:
    """Every broken rule of one registered extract, counted in one pass over its rows."""
    checks = table_checks(extract)
    engine.view(f"checked_{extract.name}", checked_view_sql(extract))
    counts = engine.fetch(
        "SELECT "
        + ", ".join(f"count_if({c.predicate}) AS v{i}" for i, c in enumerate(checks))
        + f" FROM checked_{extract.name}"
    ).iloc[0]
    found: list[Violation] = []
    for i, check in enumerate(checks):
        n = int(counts[f"v{i}"] or 0)
        if n:
            examples = _examples(engine, extract, check)
            found.append(ExtractViolation(extract.name, check.column, check.rule, n, (), examples))
    return found


def register_typed_views(engine: Engine) -> list[Violation]:
    """``x_<table>`` for every extract; a missing required column is a violation of its own."""
    missing: list[Violation] = []
    for extract in EXTRACTS:
        present = set(engine.columns(f"raw_{extract.name}"))
        for column in extract.columns:
            if column.required and column.name not in present:
                missing.append(
                    ExtractViolation(extract.name, column.name, "required column is missing", 0)
                )
        engine.view(f"x_{extract.name}", typed_view_sql(extract, present))
    return missing


def check_extracts(engine: Engine) -> None:
    """Check every extract registered as ``raw_<table>``; raise ``ExtractsError`` listing all.

    Row rules run only when every required column is there, so one report names everything to
    fix and none of it is an echo of a missing column.
    """
    found = register_typed_views(engine)
    if not found:
        for extract in EXTRACTS:
            found += violations_of(engine, extract)
    if found:
        raise ExtractsError(found)
