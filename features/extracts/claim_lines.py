"""Synthetic claim lines as Parquet: exact NOK to the øre, dates, one writer per year.

Used by ``features.extracts.synth``: amounts are whole øre turned into decimal(18,2) without a
float in between, so a person's lines add up exactly to the cost they stand for.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from features.extracts.contract import ICPC2_CHAPTERS

EPOCH = dt.date(1970, 1, 1)
SLICE_PERSONS = 500_000
NOK_PER_LINE = 400.0  # mean NOK per claim line in T: about 6 lines per person with claims
COPAYMENT_PER_LINE = 160.0
ADULT_COPAYMENT_SHARE = 0.3
FEE_CODES = ("2ad", "2cd", "2ed", "2fd", "1ad", "1bd", "701a", "706", "711", "2dd")
CHAPTER_WEIGHTS = np.array([12, 2, 7, 3, 3, 9, 15, 4, 10, 14, 8, 5, 3, 2, 2, 1, 0.5])
EVENT_SHARES = {
    "died": 0.008,  # deaths in T, about 43,000 in Norway
    "emigrated": 0.005,
    "list_move": 0.06,  # full-year persons who change list during T
    "residence_move": 0.08,
    "earlier_refugee": 0.01,  # settled before T: not first year
    "unknown_claim_persons": 0.001,
    "old_claims": 0.02,  # persons with a claim line in T - 2
    "unlisted_claims": 0.2,  # of persons listed part of T: a claim before they were listed
}


def days(date: dt.date) -> int:
    return (date - EPOCH).days


def dates(days: np.ndarray) -> pa.Array:
    return pa.array(np.asarray(days, dtype=np.int32), type=pa.date32())


def nok(ore: np.ndarray) -> pa.Array:
    """Exact NOK with øre as decimal(18,2), built from whole øre (no float rounding)."""
    ore = np.ascontiguousarray(ore, dtype=np.int64)
    words = np.empty((len(ore), 2), dtype=np.int64)
    words[:, 0] = ore
    words[:, 1] = np.where(ore < 0, -1, 0)
    return pa.Array.from_buffers(pa.decimal128(18, 2), len(ore), [None, pa.py_buffer(words)])


def split(total_ore: np.ndarray, lines: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Per person, ``lines`` amounts in øre adding up exactly to ``total_ore``."""
    owner = np.repeat(np.arange(len(lines)), lines)
    weight = rng.gamma(2.0, 1.0, owner.size)
    share = weight / np.bincount(owner, weights=weight, minlength=len(lines))[owner]
    amount = np.floor(share * total_ore[owner]).astype(np.int64)
    last = np.cumsum(lines) - 1
    has = lines > 0
    amount[last[has]] += total_ore[has] - np.bincount(owner, weights=amount, minlength=len(lines))[
        has
    ].astype(np.int64)
    return amount


class ClaimWriter:
    """Claim lines of one year appended as row groups of one Parquet file."""

    SCHEMA = pa.schema(
        [
            ("person_id", pa.string()),
            ("claim_date", pa.date32()),
            ("list_id", pa.string()),
            ("fee_code", pa.dictionary(pa.int8(), pa.string())),
            ("reimbursed_nok", pa.decimal128(18, 2)),
            ("copayment_nok", pa.decimal128(18, 2)),
            ("frikort", pa.bool_()),
            ("icpc2", pa.dictionary(pa.int16(), pa.string())),
        ]
    )

    def __init__(self, path: Path, rng: np.random.Generator):
        self.writer = pq.ParquetWriter(path, self.SCHEMA, compression="snappy")
        self.rng = rng
        self.lines = 0
        codes = [f"{c}{n:02d}" for c in ICPC2_CHAPTERS for n in range(1, 100)]
        self.icpc2 = pa.array(codes)
        self.chapter_p = CHAPTER_WEIGHTS / CHAPTER_WEIGHTS.sum()

    def write(
        self,
        person_ids: pa.Array,
        day: np.ndarray,
        list_ids: pa.Array,
        reimbursed_ore: np.ndarray,
        copayment_ore: np.ndarray,
        frikort: np.ndarray,
    ) -> None:
        n = len(day)
        if n == 0:
            return
        rng = self.rng
        fee = pa.DictionaryArray.from_arrays(
            pa.array(rng.integers(0, len(FEE_CODES), n).astype(np.int8)), pa.array(FEE_CODES)
        )
        chapter = rng.choice(len(ICPC2_CHAPTERS), n, p=self.chapter_p)
        code = (chapter * 99 + rng.integers(0, 99, n)).astype(np.int16)
        diagnosed = rng.random(n) < 0.85
        icpc2 = pa.DictionaryArray.from_arrays(
            pa.array(code, mask=~diagnosed, type=pa.int16()), self.icpc2
        )
        batch = pa.record_batch(
            [
                person_ids,
                dates(day),
                list_ids,
                fee,
                nok(reimbursed_ore),
                nok(copayment_ore),
                pa.array(frikort),
                icpc2,
            ],
            schema=self.SCHEMA,
        )
        self.writer.write_batch(batch)
        self.lines += n

    def write_drawn(
        self,
        person_ids: pa.Array,
        day: np.ndarray,
        list_ids: pa.Array,
        copayment_share: float = 0.0,
    ) -> None:
        """Lines of NOK ~ Gamma(2, 250), a share of each as copayment, none frikort-covered."""
        amount = np.round(self.rng.gamma(2.0, 250.0, len(day)) * 100).astype(np.int64)
        copayment = np.round(amount * copayment_share).astype(np.int64)
        self.write(
            person_ids, day, list_ids, amount - copayment, copayment, np.zeros(len(day), dtype=bool)
        )

    def close(self) -> None:
        self.writer.close()


def write_excluded_claims(this_year, last_year, rng, *, persons, extras, lists, year, out) -> None:
    """Claim lines the build must count as excluded: each with its reason."""
    person_ids, own_list, start, months, age = persons
    extra_ids, extra_list, extra_end = extras
    n = len(start)
    year_start = days(dt.date(year, 1, 1))
    # Persons who died or emigrated in T: claims in T up to the end of their listing.
    lines = 1 + rng.poisson(8.0, len(extra_ids))
    owner = np.repeat(np.arange(len(extra_ids)), lines)
    span = extra_end[owner] - year_start + 1
    day = year_start + np.floor(rng.random(owner.size) * span).astype(np.int64)
    this_year.write_drawn(
        extra_ids.take(pa.array(owner)),
        day,
        lists.take(pa.array(extra_list[owner])),
        copayment_share=ADULT_COPAYMENT_SHARE,
    )
    # Unknown persons (not in the population register): visitors, errors.
    n_unknown = max(1, round(n * EVENT_SHARES["unknown_claim_persons"]))
    unknown = pa.array([f"U{i:08d}" for i in range(1, n_unknown + 1)])
    owner = np.repeat(np.arange(n_unknown), 2)
    this_year.write_drawn(
        unknown.take(pa.array(owner)),
        year_start + rng.integers(0, 365, owner.size),
        lists.take(pa.array(rng.integers(0, len(lists), owner.size))),
    )
    # Persons listed part of T: a claim before their listing began (not on a list that day).
    partial = np.flatnonzero((months < 12) & (age > 0) & (start > year_start + 1))
    chosen = partial[rng.random(partial.size) < EVENT_SHARES["unlisted_claims"]]
    offset = np.floor(rng.random(chosen.size) * (start[chosen] - year_start)).astype(np.int64)
    this_year.write_drawn(
        person_ids.take(pa.array(chosen)),
        year_start + offset,
        lists.take(pa.array(own_list[chosen])),
    )
    # Claims of T - 2 for a few persons: outside the years the build reads.
    old = np.flatnonzero(rng.random(n) < EVENT_SHARES["old_claims"])
    writer = ClaimWriter(out / "claims" / f"claims_{year - 2}.parquet", rng)
    writer.write_drawn(
        person_ids.take(pa.array(old)),
        days(dt.date(year - 2, 1, 1)) + rng.integers(0, 365, old.size),
        lists.take(pa.array(own_list[old])),
    )
    writer.close()
