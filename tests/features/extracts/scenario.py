"""A small hand-written set of extracts whose data set is known row by row.

Outcome year T = 2025, reference date 2025-12-31. Every person exercises one rule; the tests
break one table at a time to see each kind of bad extract refused.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

YEAR = 2025
D = dt.date


def _persons() -> pd.DataFrame:
    rows = [
        # person, birth year, month, sex, died, refugee date
        ("P01", 1950, 6, "F", None, None),  # listed all year, one list
        ("P02", 1990, 12, "M", None, None),  # born in December: 35 on 31 December 2025
        ("P03", 2025, 3, "F", None, None),  # born March 2025, listed from birth
        ("P04", 1980, 1, "M", None, D(2025, 2, 10)),  # refugee settled in T
        ("P05", 1985, 5, "F", None, D(2024, 11, 30)),  # refugee settled in T - 1: not first year
        ("P06", 1940, 2, "M", D(2025, 6, 15), None),  # died in T
        ("P07", 1970, 7, "F", None, None),  # emigrated in T: no listing on the reference date
        ("P08", 1960, 8, "M", None, None),  # moved between lists mid-month
        ("P09", 2000, 9, "F", None, None),  # listed from May after a gap
        ("P10", 1975, 10, "M", None, None),  # listed, but no residence on the reference date
    ]
    return pd.DataFrame(
        rows, columns=["person_id", "birth_year", "birth_month", "sex", "died_on", "refugee_date"]
    )


def _residences() -> pd.DataFrame:
    rows = [
        ("P01", "03010101", D(1990, 1, 1), None),
        ("P02", "03010102", D(2010, 1, 1), D(2025, 3, 31)),
        ("P02", "46010101", D(2025, 4, 1), None),  # moved to Bergen in April
        ("P03", "03010101", D(2025, 3, 1), None),
        ("P04", "18040101", D(2025, 2, 10), None),
        ("P05", "18040101", D(2024, 11, 30), None),
        ("P06", "03010101", D(1980, 1, 1), D(2025, 6, 15)),
        ("P07", "46010101", D(2000, 1, 1), D(2025, 8, 31)),
        ("P08", "03010102", D(2000, 1, 1), None),
        ("P09", "46010101", D(2000, 1, 1), None),
        ("P10", "03010101", D(2000, 1, 1), D(2025, 10, 31)),
    ]
    return pd.DataFrame(rows, columns=["person_id", "grunnkrets", "valid_from", "valid_to"])


def _lists() -> pd.DataFrame:
    rows = [
        ("L1", "0301", "self_employed", 1500, D(2010, 1, 1), None),
        ("L2", "4601", "salaried", 1000, D(2015, 1, 1), None),
        ("L3", "1804", "self_employed", 800, D(2025, 2, 1), None),  # new list in T
        ("L4", "0301", "self_employed", 1200, D(2005, 1, 1), D(2025, 6, 14)),  # closed in T
    ]
    return pd.DataFrame(
        rows,
        columns=[
            "list_id",
            "practice_kommune",
            "practice_form",
            "list_cap",
            "agreement_start",
            "agreement_end",
        ],
    )


def _listings() -> pd.DataFrame:
    rows = [
        ("P01", "L1", D(2000, 1, 1), None),
        ("P02", "L2", D(2015, 1, 1), None),
        ("P03", "L1", D(2025, 3, 20), None),  # 10 months: March to December
        ("P04", "L3", D(2025, 2, 10), None),  # 11 months
        ("P05", "L3", D(2025, 2, 1), None),
        ("P05", "L2", D(2024, 12, 1), D(2025, 1, 31)),
        ("P06", "L4", D(2000, 1, 1), D(2025, 6, 14)),
        ("P07", "L2", D(2000, 1, 1), D(2025, 8, 31)),
        ("P08", "L4", D(2010, 1, 1), D(2025, 6, 14)),
        ("P08", "L1", D(2025, 6, 15), None),  # the closed list's persons move mid-month
        ("P09", "L2", D(2020, 1, 1), D(2024, 6, 30)),
        ("P09", "L2", D(2025, 5, 2), None),  # 8 months: May to December
        ("P10", "L1", D(2000, 1, 1), None),
    ]
    return pd.DataFrame(rows, columns=["person_id", "list_id", "valid_from", "valid_to"])


def _claims() -> pd.DataFrame:
    rows = [
        # person, date, list, fee code, reimbursed, copayment, frikort, icpc2
        ("P01", D(2025, 3, 1), "L1", "2ad", 300.55, 180.00, False, "K86"),
        ("P01", D(2025, 9, 1), "L1", "2ad", 250.10, 0.00, True, "K86"),
        ("P01", D(2024, 5, 1), "L1", "2ad", 400.00, 160.50, False, "K86"),
        ("P01", D(2024, 11, 1), "L1", "2ad", 400.00, 170.25, True, "L03"),  # frikort-covered
        ("P01", D(2023, 11, 1), "L1", "2ad", 999.00, 150.00, False, None),  # before T - 1
        ("P02", D(2025, 1, 15), "L2", "2cd", 120.00, 0.00, False, None),
        ("P02", D(2024, 2, 1), "L2", "2ad", 200.00, 160.00, False, "R74"),
        ("P03", D(2025, 3, 10), "L1", "2ad", 500.00, 0.00, False, "A97"),  # before listed
        ("P03", D(2025, 4, 10), "L1", "2ad", 600.00, 0.00, False, "A97"),
        ("P04", D(2025, 2, 5), "L3", "2ad", 350.00, 0.00, False, None),  # before listed
        ("P04", D(2025, 3, 5), "L3", "2ad", 450.00, 0.00, False, "P01"),
        ("P06", D(2025, 3, 1), "L4", "2ad", 900.00, 180.00, False, "K77"),  # died later
        ("P07", D(2025, 3, 1), "L2", "2ad", 700.00, 180.00, False, None),  # emigrated later
        ("P08", D(2025, 6, 1), "L4", "2ad", 100.00, 50.00, False, None),
        ("P08", D(2025, 7, 1), "L1", "2ad", 200.00, 60.00, False, None),
        ("P09", D(2025, 2, 1), "L2", "2ad", 333.33, 0.00, False, None),  # in the gap
        ("P09", D(2025, 6, 1), "L2", "2ad", 111.11, 0.00, False, None),
        ("P10", D(2025, 6, 1), "L1", "2ad", 100.00, 0.00, False, None),
        ("X99", D(2025, 6, 1), "L1", "2ad", 77.77, 22.23, False, None),  # unknown person
    ]
    return pd.DataFrame(
        rows,
        columns=[
            "person_id",
            "claim_date",
            "list_id",
            "fee_code",
            "reimbursed_nok",
            "copayment_nok",
            "frikort",
            "icpc2",
        ],
    )


def _kommuner() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "kommune": ["0301", "4601", "1804"],
            "name": ["Oslo", "Bergen", "Bodø"],
            "centrality": [1, 2, 4],
        }
    )


def _grunnkretser() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "grunnkrets": ["03010101", "03010102", "46010101", "18040101"],
            "primary_only_share": [0.2, 0.3, 0.25, 0.35],
        }
    )


def tables() -> dict[str, pd.DataFrame]:
    """The extracts as frames, by table name."""
    return {
        "persons": _persons(),
        "residences": _residences(),
        "lists": _lists(),
        "listings": _listings(),
        "claims": _claims(),
        "kommuner": _kommuner(),
        "grunnkretser": _grunnkretser(),
    }


def write(frames: dict[str, pd.DataFrame], directory: Path, fmt: str = "parquet") -> Path:
    """Write the extracts; dates as dates in Parquet, as ISO text in CSV."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, frame in frames.items():
        if fmt == "parquet":
            frame.to_parquet(directory / f"{name}.parquet", index=False)
        else:
            frame.to_csv(directory / f"{name}.csv", index=False)
    return directory
