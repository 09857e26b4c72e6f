"""Synthetic registry extracts whose build is the person-level synthetic data set, exactly.

The person-level population of ``features.synth`` (docs/cost-model.md) is the truth: each of its
persons becomes a population-register row with residence periods, FLO listing periods (moves
between lists, lists that close or open in T, a gap abroad for those listed part of the year,
birth in T for newborns, settlement in T for first-year refugees) and KUHR claim lines: the
person's cost in T split into lines on days they were listed, last year's copayment split into
lines of T - 1, the ones above the copayment ceiling covered by the exemption card (frikort).
Around them come the events a build must leave out and count: persons who die or emigrate in
T, claims of unknown persons, claims on days off any list, claims of earlier years. Building the
extracts gives back the person-level data set row for row, so it calibrates the same.

Claims are written per year and per slice of persons as Parquet row groups, so the whole
country (30-40 million lines a year) never sits in memory at once.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from features.contract import Dataset
from features.extracts.claim_lines import (
    ADULT_COPAYMENT_SHARE,
    COPAYMENT_PER_LINE,
    EVENT_SHARES,
    NOK_PER_LINE,
    ClaimWriter,
    dates,
    days,
    split,
    write_excluded_claims,
)
from features.extracts.contract import PRACTICE_FORMS
from features.synth import load_parameters, synthesise

SLICE_PERSONS = 500_000


def _listing_start(data: pd.DataFrame, year: int, rng: np.random.Generator) -> np.ndarray:
    """First day of the current listing (days since 1970): in T for those listed part of it."""
    n = len(data)
    months = data["months_listed"].to_numpy()
    age = data["age"].to_numpy()
    first_month = 13 - months
    day_in_month = rng.integers(1, 29, n)
    partial = (
        np.array([days(dt.date(year, int(m), 1)) for m in range(1, 13)], dtype=np.int64)[
            first_month - 1
        ]
        + day_in_month
        - 1
    )
    # Listed all of T: since birth, or since some earlier year.
    earlier_years = np.minimum(age, rng.integers(1, 16, n))
    earlier = np.array([days(dt.date(year - k, 1, 1)) for k in range(0, 122)], dtype=np.int64)[
        earlier_years
    ] + rng.integers(0, 365, n)
    earlier = np.minimum(earlier, days(dt.date(year, 1, 1)))
    # Newborns and first-year refugees join in T, in the month that gives their months listed.
    joined = (months < 12) | (age == 0) | data["refugee_first_year"].to_numpy(dtype=bool)
    return np.where(joined, partial, earlier)


def write_synthetic_extracts(
    out: str | Path, *, n_persons: int | None = None, seed: int = 2026, year: int = 2025
) -> dict[str, int]:
    """Write the extracts of ``n_persons`` (default the whole country) for outcome year T."""
    truth = synthesise(n_persons, seed)
    return write_extracts_of(truth, out, seed=seed, year=year)


def write_extracts_of(truth: Dataset, out: str | Path, *, seed: int, year: int) -> dict[str, int]:
    """Registry extracts whose build for ``year`` is ``truth`` (persons, lists, reference)."""
    out = Path(out)
    (out / "claims").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(np.random.SeedSequence([seed, year, 13]))
    params = load_parameters()
    persons = truth.persons.reset_index(drop=True)
    n = len(persons)
    lists = truth.lists.reset_index(drop=True)
    list_index = pd.Index(lists["list_id"].astype(str))
    own_list = list_index.get_indexer(pd.Index(persons["list_id"].astype(str)))

    # Lists: the truth's lists, plus lists that close during T (their persons move).
    n_closed = max(1, len(lists) // 100)
    closed_ids = [f"C{i:05d}" for i in range(1, n_closed + 1)]
    closed_end = np.array(
        [days(dt.date(year, 2, 1)) + int(d) for d in rng.integers(0, 280, n_closed)]
    )
    n_new = max(1, len(lists) // 100)
    new_list = rng.choice(len(lists), n_new, replace=False)
    start_days = rng.integers(days(dt.date(1990, 1, 1)), days(dt.date(year - 1, 6, 1)), len(lists))
    start_days[new_list] = days(dt.date(year, 1, 1))
    all_list_ids = pa.array(list(lists["list_id"].astype(str)) + closed_ids, type=pa.string())
    kommune_codes = list(lists["practice_kommune"].astype(str))
    lists_out = pd.DataFrame(
        {
            "list_id": all_list_ids.to_pandas(),
            "practice_kommune": kommune_codes + list(rng.choice(kommune_codes, n_closed)),
            "practice_form": np.where(
                rng.random(len(lists) + n_closed) < 0.8, PRACTICE_FORMS[0], PRACTICE_FORMS[1]
            ),
            "list_cap": np.concatenate(
                [
                    np.ceil(np.bincount(own_list, minlength=len(lists)) / 100 + 1) * 100,
                    np.full(n_closed, 1000),
                ]
            ).astype(np.int64),
            "agreement_start": dates(
                np.concatenate([start_days, np.full(n_closed, days(dt.date(2000, 1, 1)))])
            ).to_pandas(),
            "agreement_end": dates(
                np.concatenate([np.full(len(lists), 0), closed_end])
            ).to_pandas(),
        }
    )
    lists_out.loc[: len(lists) - 1, "agreement_end"] = None
    lists_out.to_parquet(out / "lists.parquet", index=False)

    # Persons of the truth.
    age = persons["age"].to_numpy()
    months = persons["months_listed"].to_numpy()
    refugee = persons["refugee_first_year"].to_numpy(dtype=bool)
    start = _listing_start(persons, year, rng)
    on_new_list = np.isin(own_list, new_list)
    start = np.where(on_new_list, np.maximum(start, days(dt.date(year, 1, 1))), start)
    start_date = pd.to_datetime(start, unit="D")
    birth_month = np.where(age == 0, start_date.month, rng.integers(1, 13, n))
    earlier_refugee = ~refugee & (rng.random(n) < EVENT_SHARES["earlier_refugee"])
    refugee_day = np.where(
        refugee,
        start,
        np.where(
            earlier_refugee,
            days(dt.date(year - 1, 12, 31)) - rng.integers(0, 6 * 365, n),
            -1,
        ),
    )
    person_ids = pa.array(persons["person_id"].astype(str), type=pa.string())

    # Listing periods: a move from another list during T (a closed list's persons move the day
    # after it closes), and a period before a gap for persons listed part of T.
    full_year = (months == 12) & (start < days(dt.date(year, 1, 1)))
    mover = full_year & (rng.random(n) < EVENT_SHARES["list_move"])
    from_closed = mover & (rng.random(n) < 0.5)
    closed_of = rng.integers(0, n_closed, n)
    move_day = np.where(
        from_closed,
        closed_end[closed_of] + 1,
        days(dt.date(year, 1, 2)) + rng.integers(0, 360, n),
    )
    earlier_list = np.where(from_closed, len(lists) + closed_of, rng.integers(0, len(lists), n))
    current_from = np.where(mover, move_day, start)
    gap = (months < 12) & (age > 0) & ~refugee
    gap_end = np.minimum(start - 30, days(dt.date(year - 1, 12, 31)))
    rows_current = pd.DataFrame(
        {
            "person_id": person_ids.to_pandas(),
            "list_id": all_list_ids.take(pa.array(own_list)).to_pandas(),
            "valid_from": dates(current_from).to_pandas(),
            "valid_to": None,
        }
    )
    moved = np.flatnonzero(mover)
    rows_moved = pd.DataFrame(
        {
            "person_id": person_ids.take(pa.array(moved)).to_pandas(),
            "list_id": all_list_ids.take(pa.array(earlier_list[moved])).to_pandas(),
            "valid_from": dates(start[moved]).to_pandas(),
            "valid_to": dates(move_day[moved] - 1).to_pandas(),
        }
    )
    gapped = np.flatnonzero(gap)
    rows_gap = pd.DataFrame(
        {
            "person_id": person_ids.take(pa.array(gapped)).to_pandas(),
            "list_id": all_list_ids.take(pa.array(own_list[gapped])).to_pandas(),
            "valid_from": dates(gap_end[gapped] - 3 * 365).to_pandas(),
            "valid_to": dates(gap_end[gapped]).to_pandas(),
        }
    )

    # Events outside the data set: deaths and emigration in T.
    n_died = round(n * EVENT_SHARES["died"])
    n_emigrated = round(n * EVENT_SHARES["emigrated"])
    n_extra = n_died + n_emigrated
    extra_ids = pa.array([f"Q{i:08d}" for i in range(1, n_extra + 1)])
    extra_truth = rng.integers(0, n, n_extra)  # each extra person copies a person's facts
    extra_end = days(dt.date(year, 1, 1)) + rng.integers(0, 364, n_extra)
    extra_age = np.maximum(age[extra_truth], 1)
    rows_extra = pd.DataFrame(
        {
            "person_id": extra_ids.to_pandas(),
            "list_id": all_list_ids.take(pa.array(own_list[extra_truth])).to_pandas(),
            "valid_from": dates(np.full(n_extra, days(dt.date(year - 3, 1, 1)))).to_pandas(),
            "valid_to": dates(extra_end).to_pandas(),
        }
    )
    listings = pd.concat([rows_current, rows_moved, rows_gap, rows_extra], ignore_index=True)
    listings.to_parquet(out / "listings.parquet", index=False)

    died_on = np.full(n_extra, -1)
    died_on[:n_died] = extra_end[:n_died]
    persons_out = pd.DataFrame(
        {
            "person_id": pa.concat_arrays([person_ids, extra_ids]).to_pandas(),
            "birth_year": np.concatenate([year - age, year - extra_age]).astype(np.int64),
            "birth_month": np.concatenate([birth_month, rng.integers(1, 13, n_extra)]).astype(
                np.int64
            ),
            "sex": pd.concat(
                [persons["sex"].astype(str), persons["sex"].astype(str).iloc[extra_truth]],
                ignore_index=True,
            ),
            "died_on": dates(np.concatenate([np.full(n, -1), died_on])).to_pandas(),
            "refugee_date": dates(np.concatenate([refugee_day, np.full(n_extra, -1)])).to_pandas(),
        }
    )
    no_date = np.concatenate([np.full(n, True), died_on < 0])
    persons_out.loc[no_date, "died_on"] = None
    persons_out.loc[np.concatenate([refugee_day < 0, np.full(n_extra, True)]), "refugee_date"] = (
        None
    )
    persons_out.to_parquet(out / "persons.parquet", index=False)

    # Residences: the truth's grunnkrets from the listing start (or earlier); some moved there.
    grunnkrets = persons["grunnkrets"].astype(str).to_numpy()
    codes = truth.grunnkretser["grunnkrets"].astype(str).to_numpy()
    since = np.minimum(start, current_from) - rng.integers(0, 200, n)
    res_move = rng.random(n) < EVENT_SHARES["residence_move"]
    moved_in = since - rng.integers(30, 3000, n)
    residences = pd.concat(
        [
            pd.DataFrame(
                {
                    "person_id": person_ids.to_pandas(),
                    "grunnkrets": grunnkrets,
                    "valid_from": dates(np.where(res_move, moved_in, since)).to_pandas(),
                    "valid_to": None,
                }
            ),
            pd.DataFrame(
                {
                    "person_id": person_ids.take(pa.array(np.flatnonzero(res_move))).to_pandas(),
                    "grunnkrets": rng.choice(codes, int(res_move.sum())),
                    "valid_from": dates(moved_in[res_move] - 5 * 365).to_pandas(),
                    "valid_to": dates(moved_in[res_move] - 1).to_pandas(),
                }
            ),
            pd.DataFrame(
                {
                    "person_id": extra_ids.to_pandas(),
                    "grunnkrets": grunnkrets[extra_truth],
                    "valid_from": dates(np.full(n_extra, days(dt.date(1990, 1, 1)))).to_pandas(),
                    "valid_to": dates(extra_end).to_pandas(),
                }
            ),
        ],
        ignore_index=True,
    )
    residences.to_parquet(out / "residences.parquet", index=False)
    truth.kommuner[["kommune", "name", "centrality"]].to_parquet(
        out / "kommuner.parquet", index=False
    )
    truth.grunnkretser.to_parquet(out / "grunnkretser.parquet", index=False)

    # Claim lines, a slice of persons at a time.
    ceiling = float(params["copayment"]["ceiling_nok"])
    exempt_below = int(params["copayment"]["exempt_below_age"])
    this_year = ClaimWriter(out / "claims" / f"claims_{year}.parquet", rng)
    last_year = ClaimWriter(out / "claims" / f"claims_{year - 1}.parquet", rng)
    year_start, year_end = days(dt.date(year, 1, 1)), days(dt.date(year, 12, 31))
    last_start = days(dt.date(year - 1, 1, 1))
    cost_ore = np.round(persons["cost"].to_numpy() * 100).astype(np.int64)
    copay_ore = np.round(persons["copayment_prev_year"].to_numpy() * 100).astype(np.int64)
    for first in range(0, n, SLICE_PERSONS):
        idx = np.arange(first, min(n, first + SLICE_PERSONS))
        # T: the cost, on days listed; the list of the day.
        lines = np.where(cost_ore[idx] > 0, 1 + rng.poisson(cost_ore[idx] / 100 / NOK_PER_LINE), 0)
        owner = np.repeat(idx, lines)
        amount = split(cost_ore[idx], lines, rng)
        listed_from = np.maximum(start[owner], year_start)
        day = listed_from + np.floor(rng.random(owner.size) * (year_end - listed_from + 1)).astype(
            np.int64
        )
        on_earlier = mover[owner] & (day < move_day[owner])
        list_of = np.where(on_earlier, earlier_list[owner], own_list[owner])
        adult = age[owner] >= exempt_below
        copayment = np.where(adult, np.round(amount * ADULT_COPAYMENT_SHARE), 0).astype(np.int64)
        this_year.write(
            person_ids.take(pa.array(owner)),
            day,
            all_list_ids.take(pa.array(list_of)),
            amount - copayment,
            copayment,
            np.zeros(owner.size, dtype=bool),
        )
        # T - 1: last year's copayments (frikort covers those after the ceiling is reached),
        # and lines without a copayment (children, laboratory work).
        paid = copay_ore[idx]
        copay_lines = np.where(
            paid > 0, np.maximum(1, np.round(paid / 100 / COPAYMENT_PER_LINE)), 0
        )
        copay_lines = copay_lines.astype(np.int64)
        owner = np.repeat(idx, copay_lines)
        copayment = split(paid, copay_lines, rng)
        order_in_person = np.arange(owner.size) - np.repeat(
            np.cumsum(copay_lines) - copay_lines, copay_lines
        )
        at_ceiling = persons["copayment_prev_year"].to_numpy()[owner] >= ceiling
        frikort = at_ceiling & (order_in_person >= np.repeat(copay_lines, copay_lines) * 0.7)
        free_lines = rng.poisson(np.where(age[idx] < exempt_below, 4.0, 2.5))
        free_owner = np.repeat(idx, free_lines)
        owner_all = np.concatenate([owner, free_owner])
        day = last_start + rng.integers(0, 365, owner_all.size)
        reimbursed = np.round(rng.gamma(2.0, 160.0, owner_all.size) * 100).astype(np.int64)
        last_year.write(
            person_ids.take(pa.array(owner_all)),
            day,
            all_list_ids.take(pa.array(own_list[owner_all])),
            reimbursed,
            np.concatenate([copayment, np.zeros(free_owner.size, dtype=np.int64)]),
            np.concatenate([frikort, np.zeros(free_owner.size, dtype=bool)]),
        )
    write_excluded_claims(
        this_year,
        last_year,
        rng,
        persons=(person_ids, own_list, start, months, age),
        extras=(extra_ids, own_list[extra_truth], extra_end),
        lists=all_list_ids,
        year=year,
        out=out,
    )
    this_year.close()
    last_year.close()
    return {
        "persons": len(persons_out),
        "residences": len(residences),
        "listings": len(listings),
        "lists": len(lists_out),
        f"claim lines {year}": this_year.lines,
        f"claim lines {year - 1}": last_year.lines,
    }
