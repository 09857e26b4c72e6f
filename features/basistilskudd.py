"""The whole basistilskudd of a list: the PTB grant, grunntilskudd and utjamningstilskudd.

PTB is priced per person by the model (``features.grants``); the two other lines are list-level
rules computed from the national average rate (``SchemeParameters.average_grant_nok``):

- **utjamningstilskudd** (until 30 June 2026): a self-employed GP (not a salaried one) in a
  kommune with fewer than 5,000 inhabitants whose average list is shorter than 1,200 persons
  gets the average rate for (1,200 - the kommune's average list length), the same for each such
  GP in the kommune. The average is over every list practising in the kommune. From 1 July
  2026 it is abolished and its money U strengthens the centrality supplement.
- **grunntilskudd**: a list with a list cap of at least 500 and fewer than 500 persons, in the
  first 24 months from the agreement's start (month 1 is the month it starts), is topped up to
  what 500 persons at the average rate would pay (its PTB grant included); never negative. It
  is its own funding line: the PTB rate does not pay for it, and an empty list qualifies.

A fact a rule needs that the data set lacks makes that line *not computable* for the lists it
decides (reported by name, the amount left empty); it is never guessed. A list the rule cannot
reach whatever the missing fact (a list of 800 persons for grunntilskudd) is computed as 0.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

import numpy as np
import pandas as pd

from features.contract import Dataset
from features.indicators import PRESETS, preset_spec

Rule = Literal["model0_2023", "model_2026"]

REFORM_DATE = date(2026, 7, 1)  # the 2026 rule is in force from this payment date
SMALL_KOMMUNE_INHABITANTS = 5_000  # utjamningstilskudd: fewer than this many inhabitants
UTJAMNING_LIST_LENGTH = 1_200  # ... and an average list shorter than this
GRUNNTILSKUDD_PERSONS = 500  # grunntilskudd: a list cap of at least, and persons below, this
GRUNNTILSKUDD_MONTHS = 24  # ... for at most two years from the agreement's start

PAYMENT_COLUMNS = (
    "ptb_grant_nok",
    "grunntilskudd_nok",
    "utjamningstilskudd_nok",
    "total_nok",
    "not_computable",
)


def rule_for(scheme_date: date) -> Rule:
    """The legislated rule for a payment date: model 0 before 1 July 2026, then the 2026 rule."""
    return "model_2026" if scheme_date >= REFORM_DATE else "model0_2023"


def _missing(lists: pd.DataFrame, column: str) -> np.ndarray:
    if column not in lists.columns:
        return np.ones(len(lists), dtype=bool)
    return lists[column].isna().to_numpy(dtype=bool)


def kommune_average_list(lists: pd.DataFrame) -> pd.Series:
    """Per list, the average list length (persons) over all lists of its practice kommune."""
    return lists.groupby("practice_kommune")["persons"].transform("mean").astype("float64")


def utjamningstilskudd(
    lists: pd.DataFrame,
    population: pd.Series | None,
    average_grant_nok: float,
    kommune_average: pd.Series | None = None,
) -> tuple[np.ndarray, list[str]]:
    """Annual utjamningstilskudd per list under the 2023 rule (NaN where not computable).

    ``lists`` has ``practice_kommune``, ``persons`` and, if the data set has it,
    ``form_of_practice``; ``population`` is inhabitants by kommune (None if unknown).
    ``kommune_average`` (average list length by kommune) is for lists priced outside their
    data set, such as a posted list; by default the average is over ``lists`` itself.
    Returns the amounts and the reasons some could not be computed.
    """
    if kommune_average is None:
        average = kommune_average_list(lists).to_numpy()
    else:
        average = lists["practice_kommune"].map(kommune_average).to_numpy(dtype="float64")
    inhabitants = (
        lists["practice_kommune"].map(population).to_numpy(dtype="float64")
        if population is not None
        else np.full(len(lists), np.nan)
    )
    short = average < UTJAMNING_LIST_LENGTH
    small = inhabitants < SMALL_KOMMUNE_INHABITANTS
    average_unknown = np.isnan(average)
    population_unknown = np.isnan(inhabitants) & (short | average_unknown)
    form_unknown = (
        _missing(lists, "form_of_practice")
        & (short | average_unknown)
        & ~(inhabitants >= SMALL_KOMMUNE_INHABITANTS)
    )
    average_unknown &= ~(inhabitants >= SMALL_KOMMUNE_INHABITANTS)
    self_employed = (
        (lists["form_of_practice"] == "self_employed").fillna(False).to_numpy(dtype=bool)
        if "form_of_practice" in lists.columns
        else np.zeros(len(lists), dtype=bool)
    )
    amount = np.where(
        short & small & self_employed,
        average_grant_nok * (UTJAMNING_LIST_LENGTH - average),
        0.0,
    )
    unknown = population_unknown | form_unknown | average_unknown
    reasons = []
    if average_unknown.any():
        reasons.append("utjamningstilskudd: the practice kommune's average list is unknown")
    if population_unknown.any():
        reasons.append("utjamningstilskudd: kommuner.population is missing")
    if form_unknown.any():
        reasons.append("utjamningstilskudd: lists.form_of_practice is missing")
    return np.where(unknown, np.nan, amount), reasons


def agreement_month(agreement_start: pd.Series, scheme_date: date) -> np.ndarray:
    """The month of the agreement a payment date falls in: 1 in the month it starts.

    ``agreement_start`` holds datetimes (a data set's column) or dates (a request's, which
    may lie outside the nanosecond range pandas timestamps cover); a missing start is NaN.
    """
    if pd.api.types.is_datetime64_any_dtype(agreement_start):
        year = agreement_start.dt.year.to_numpy(dtype="float64", na_value=np.nan)
        month = agreement_start.dt.month.to_numpy(dtype="float64", na_value=np.nan)
    else:
        starts = [d if isinstance(d, date) else None for d in agreement_start]
        year = np.array([d.year if d else np.nan for d in starts], dtype="float64")
        month = np.array([d.month if d else np.nan for d in starts], dtype="float64")
    return (scheme_date.year - year) * 12 + (scheme_date.month - month) + 1


def grunntilskudd(
    lists: pd.DataFrame, ptb_grant_nok: np.ndarray, scheme_date: date, average_grant_nok: float
) -> tuple[np.ndarray, list[str]]:
    """Annual grunntilskudd per list (NaN where not computable) and why some are not.

    ``lists`` has ``persons`` and, if the data set has them, ``list_cap`` and
    ``agreement_start``; ``ptb_grant_nok`` is each list's PTB grant under the same rule.
    """
    short = lists["persons"].to_numpy() < GRUNNTILSKUDD_PERSONS
    cap = (
        lists["list_cap"].to_numpy(dtype="float64", na_value=np.nan)
        if "list_cap" in lists.columns
        else np.full(len(lists), np.nan)
    )
    month = (
        agreement_month(lists["agreement_start"], scheme_date)
        if "agreement_start" in lists.columns
        else np.full(len(lists), np.nan)
    )
    cap_unknown = short & np.isnan(cap)
    start_unknown = short & np.isnan(month) & ~(cap < GRUNNTILSKUDD_PERSONS)
    qualifies = (
        short & (cap >= GRUNNTILSKUDD_PERSONS) & (month >= 1) & (month <= GRUNNTILSKUDD_MONTHS)
    )
    floor = GRUNNTILSKUDD_PERSONS * average_grant_nok
    amount = np.where(qualifies, np.maximum(floor - np.asarray(ptb_grant_nok), 0.0), 0.0)
    reasons = []
    if cap_unknown.any():
        reasons.append("grunntilskudd: lists.list_cap is missing")
    if start_unknown.any():
        reasons.append("grunntilskudd: lists.agreement_start is missing")
    return np.where(cap_unknown | start_unknown, np.nan, amount), reasons


def list_payments(
    lists: pd.DataFrame,
    ptb_grant_nok: np.ndarray,
    *,
    population: pd.Series | None,
    scheme_date: date,
    average_grant_nok: float,
    rule: Rule | None = None,
    kommune_average: pd.Series | None = None,
) -> pd.DataFrame:
    """Each list's basistilskudd under the rule of ``scheme_date``, unrounded annual NOK.

    ``rule`` overrides the date's rule (a what-if step); the date still counts the months of
    an agreement for grunntilskudd.

    Columns of ``PAYMENT_COLUMNS``: the PTB grant, grunntilskudd, utjamningstilskudd (0 from
    1 July 2026), their total (NaN when a part is not computable) and ``not_computable`` (the
    reasons, "; "-joined, empty when everything was computed).
    """
    ptb = np.asarray(ptb_grant_nok, dtype="float64")
    grunn, grunn_reasons = grunntilskudd(lists, ptb, scheme_date, average_grant_nok)
    if (rule or rule_for(scheme_date)) == "model0_2023":
        utjamning, utjamning_reasons = utjamningstilskudd(
            lists, population, average_grant_nok, kommune_average
        )
    else:
        utjamning, utjamning_reasons = np.zeros(len(lists)), []
    reasons = [""] * len(lists)
    for found, amounts in ((grunn_reasons, grunn), (utjamning_reasons, utjamning)):
        text = "; ".join(found)
        for i in np.flatnonzero(np.isnan(amounts)):
            reasons[i] = f"{reasons[i]}; {text}" if reasons[i] else text
    return pd.DataFrame(
        {
            "ptb_grant_nok": ptb,
            "grunntilskudd_nok": grunn,
            "utjamningstilskudd_nok": utjamning,
            "total_nok": ptb + grunn + utjamning,
            "not_computable": reasons,
        },
        index=lists.index,
    )


def list_facts(lists: pd.DataFrame, persons_per_list: pd.Series) -> pd.DataFrame:
    """The lists table with each list's persons (0 for an empty list) attached."""
    out = lists.copy(deep=False)
    counts = persons_per_list.reindex(lists["list_id"].astype("string")).fillna(0)
    out["persons"] = counts.to_numpy(dtype="int64")
    return out


def utjamning_money(
    lists: pd.DataFrame, population: pd.Series | None, average_grant_nok: float
) -> tuple[float | None, list[str]]:
    """U: what the 2023 rule pays in utjamningstilskudd a year over all lists, or None (and why)
    when a list it may reach lacks a fact."""
    amounts, reasons = utjamningstilskudd(lists, population, average_grant_nok)
    if np.isnan(amounts).any():
        return None, reasons
    return float(amounts.sum()), []


def dataset_payments(
    dataset: Dataset,
    ptb_grant_nok: np.ndarray,
    persons: np.ndarray,
    *,
    scheme_date: date,
    average_grant_nok: float,
    rule: Rule | None = None,
) -> pd.DataFrame:
    """``list_payments`` for every list of a data set, in its ``lists`` order.

    ``ptb_grant_nok`` and ``persons`` are per list in that order (0 for an empty list).
    """
    facts = dataset.lists.copy(deep=False)
    facts["persons"] = np.asarray(persons, dtype="int64")
    kommuner = dataset.kommuner.set_index("kommune")
    population = kommuner["population"] if "population" in kommuner.columns else None
    return list_payments(
        facts,
        ptb_grant_nok,
        population=population,
        scheme_date=scheme_date,
        average_grant_nok=average_grant_nok,
        rule=rule,
    )


def model_rule(model_name: str) -> Rule | None:
    """The legislated rule a registered model implements (its preset's ``rule``), if any."""
    if model_name not in PRESETS:
        return None
    rule = preset_spec(model_name).get("rule")
    return rule if rule in ("model0_2023", "model_2026") else None


def is_challenger(model_name: str) -> bool:
    """Whether a model is a challenger (its preset says so): evidence, not a rule."""
    return model_name in PRESETS and bool(preset_spec(model_name).get("challenger", False))


def is_legislated(model_name: str) -> bool:
    """Whether a model implements a legislated rule as it stands (not a challenger)."""
    return model_rule(model_name) is not None and not is_challenger(model_name)
