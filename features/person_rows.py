"""Persons given as rows (the MLflow pyfunc's input) checked with the data contract's rules.

The API checks a request with its pydantic schemas; ``mlflow.pyfunc.load_model(...).predict``
and ``mlflow models serve`` hand the pyfunc a frame instead. Both must refuse what the data
contract refuses (sex ``"m"``, age 130, a negative or absurd copayment), so the frame is checked
with the contract's own column rules here, and a refusal names the column, the rule and the
rows (counted from 1, as the contract counts them).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pandera.pandas as pa

from features.contract import (
    COLUMNS,
    ColumnRule,
    _checks,
    _coerce_column,
    _pandera_violations,
    _violation,
)
from features.errors import ContractError, Violation
from features.indicators import PERSON_FIELDS

TABLE = "persons"


def _person_rules() -> tuple[ColumnRule, ...]:
    """The contract's rules for the person fields; references are the model's to check."""
    rules = {rule.name: rule for rule in COLUMNS["persons"] + COLUMNS["lists"]}
    return tuple(replace(rules[name], references=None, unique=False) for name in PERSON_FIELDS)


PERSON_RULES = _person_rules()


def _strict_numbers(rule: ColumnRule, raw: pd.Series) -> Violation | None:
    """Numbers must be numbers: text ("12") and booleans are refused, as the API refuses them."""
    if pd.api.types.is_bool_dtype(raw.dtype):
        return _violation(TABLE, rule.name, "not a number", ~raw.isna().to_numpy())
    if pd.api.types.is_numeric_dtype(raw.dtype):
        infinite = np.isinf(raw.to_numpy(dtype="float64", na_value=np.nan))
        return _violation(TABLE, rule.name, "not a finite number", infinite)
    bad = np.array(
        [
            not (value is None or (isinstance(value, int | float) and not isinstance(value, bool)))
            or (isinstance(value, float) and np.isinf(value))
            for value in raw.to_numpy(dtype=object)
        ],
        dtype=bool,
    )
    return _violation(TABLE, rule.name, "not a finite number", bad)


def check_person_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The person fields of ``frame`` with contract types; ``ContractError`` lists every breach."""
    frame = frame.reset_index(drop=True)
    missing = [name for name in PERSON_FIELDS if name not in frame.columns]
    if missing:
        raise ContractError(
            [Violation(TABLE, name, "required column is missing", 0) for name in missing]
        )
    violations: list[Violation | None] = []
    columns: dict[str, pd.Series] = {}
    for rule in PERSON_RULES:
        raw = frame[rule.name]
        if rule.kind in ("integer", "number"):
            violations.append(_strict_numbers(rule, raw))
        columns[rule.name], bad_type = _coerce_column(TABLE, rule, raw)
        violations.append(bad_type)
        violations.append(_violation(TABLE, rule.name, "is empty", raw.isna().to_numpy()))
    found = [v for v in violations if v is not None]
    typed = pd.DataFrame(columns, index=frame.index)
    if not found:
        schema = pa.DataFrameSchema(
            {rule.name: pa.Column(checks=_checks(rule, {}), nullable=True) for rule in PERSON_RULES}
        )
        found = [v for v in _pandera_violations(TABLE, typed, schema) if v is not None]
    if found:
        raise ContractError(found)
    typed["age"] = typed["age"].astype("int64")
    typed["refugee_first_year"] = typed["refugee_first_year"].astype(bool)
    return typed
