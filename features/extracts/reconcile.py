"""Reconciliation: every claim line and every NOK in is used or excluded with a reason.

The build refuses to write a data set whose reconciliation does not add up to the øre; that
would mean a rule lost or counted a claim twice.
"""

from __future__ import annotations

from decimal import Decimal

import pandas as pd

from features.errors import BuildError

RECONCILIATION_FILE = "reconciliation.csv"
COLUMNS = ("source", "outcome", "reason", "lines", "nok")


def tidy(reconciliation: pd.DataFrame) -> pd.DataFrame:
    """One row per source, outcome and reason in a fixed order, NOK as exact decimals."""
    out = reconciliation.loc[:, list(COLUMNS)].copy()
    out["lines"] = out["lines"].astype("int64")
    out["nok"] = pd.Series(
        [Decimal(str(v)).quantize(Decimal("0.01")) for v in out["nok"]],
        index=out.index,
        dtype=object,
    )
    for column in ("source", "outcome", "reason"):
        out[column] = out[column].astype(str)
    rank = out["outcome"].map({"used": 0, "excluded": 1})
    out = out.assign(_rank=rank).sort_values(["source", "_rank", "reason"], kind="stable")
    return out.drop(columns="_rank").reset_index(drop=True)


def check_claims_balance(reconciliation: pd.DataFrame, lines_in: int, nok_in: Decimal) -> None:
    """NOK in = NOK used + NOK excluded and lines in = lines accounted for, exactly."""
    claims = reconciliation[reconciliation["source"] == "claims"]
    nok_out = sum(claims["nok"], Decimal("0.00"))
    lines_out = int(claims["lines"].sum())
    if nok_out != nok_in or lines_out != lines_in:
        raise BuildError(
            f"reconciliation does not add up: {lines_in:,} claim lines and NOK {nok_in:,} in, "
            f"{lines_out:,} lines and NOK {nok_out:,} used or excluded"
        )


def with_totals(reconciliation: pd.DataFrame, lines_in: int, nok_in: Decimal) -> pd.DataFrame:
    """The table as written: the claims' 'in' row first, then where every line went."""
    total = pd.DataFrame(
        [
            {
                "source": "claims",
                "outcome": "in",
                "reason": "claim lines in the extract",
                "lines": lines_in,
                "nok": nok_in,
            }
        ]
    )
    return pd.concat([total, reconciliation], ignore_index=True)


def read_reconciliation(path) -> pd.DataFrame:
    """A written reconciliation with NOK read back as exact decimals."""
    dtypes: dict[str, str | type[str]] = {"lines": "int64", "nok": str}
    frame = pd.read_csv(path, dtype=dtypes, keep_default_na=False)
    frame["nok"] = frame["nok"].map(Decimal)
    return frame
