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

from dataclasses import dataclass
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


@dataclass(frozen=True)
class ListFacts:
    """What the two list-level rules read, one array entry per list.

    Arrays, not a frame: a posted list in a payment answer is priced by the same rules as a
    data set's lists without building a one-row DataFrame on every request.
    """

    persons: np.ndarray  # persons on the list
    list_cap: np.ndarray  # float; NaN where unknown
    start_year: np.ndarray  # float; the agreement's start, NaN where unknown
    start_month: np.ndarray
    form_known: np.ndarray  # bool: form_of_practice is given
    self_employed: np.ndarray  # bool
    kommune_average: np.ndarray  # float: the practice kommune's average list length
    inhabitants: np.ndarray  # float: the practice kommune's inhabitants, NaN where unknown

    @classmethod
    def of_lists(
        cls,
        lists: pd.DataFrame,
        population: pd.Series | None = None,
        kommune_average: pd.Series | None = None,
    ) -> ListFacts:
        """From a lists table with ``persons`` and, where known, ``practice_kommune``,
        ``form_of_practice``, ``list_cap`` and ``agreement_start``.

        ``population`` is inhabitants by kommune; ``kommune_average`` (average list length by
        kommune) is for lists priced outside their data set, by default the average over
        ``lists`` itself.
        """
        n = len(lists)
        unknown = np.full(n, np.nan)
        kommune = lists["practice_kommune"] if "practice_kommune" in lists.columns else None
        if kommune is None:
            average = unknown
        elif kommune_average is None:
            average = kommune_average_list(lists).to_numpy(dtype="float64")
        else:
            average = kommune.map(kommune_average).to_numpy(dtype="float64")
        inhabitants = (
            kommune.map(population).to_numpy(dtype="float64")
            if kommune is not None and population is not None
            else unknown
        )
        form = lists["form_of_practice"] if "form_of_practice" in lists.columns else None
        year, month = (
            _start_year_month(lists["agreement_start"])
            if "agreement_start" in lists.columns
            else (unknown, unknown)
        )
        return cls(
            persons=lists["persons"].to_numpy(),
            list_cap=lists["list_cap"].to_numpy(dtype="float64", na_value=np.nan)
            if "list_cap" in lists.columns
            else unknown,
            start_year=year,
            start_month=month,
            form_known=np.zeros(n, dtype=bool) if form is None else form.notna().to_numpy(bool),
            self_employed=np.zeros(n, dtype=bool)
            if form is None
            else (form == "self_employed").fillna(False).to_numpy(dtype=bool),
            kommune_average=average,
            inhabitants=inhabitants,
        )

    @classmethod
    def of_one(
        cls,
        *,
        persons: int,
        list_cap: int | None,
        agreement_start: date | None,
        form_of_practice: str | None,
        kommune_average: float | None,
        inhabitants: float | None,
    ) -> ListFacts:
        """One list's facts (a posted list); None where a fact is unknown."""

        def known(value: float | None) -> np.ndarray:
            return np.array([np.nan if value is None else float(value)])

        start = agreement_start
        return cls(
            persons=np.array([persons]),
            list_cap=known(list_cap),
            start_year=known(start.year if start else None),
            start_month=known(start.month if start else None),
            form_known=np.array([pd.notna(form_of_practice)]),
            self_employed=np.array([form_of_practice == "self_employed"]),
            kommune_average=known(kommune_average),
            inhabitants=known(inhabitants),
        )

    def __len__(self) -> int:
        return len(self.persons)

    def agreement_month(self, scheme_date: date) -> np.ndarray:
        """The month of the agreement a payment date falls in: 1 in the month it starts."""
        return (
            (scheme_date.year - self.start_year) * 12 + (scheme_date.month - self.start_month) + 1
        )


def _start_year_month(agreement_start: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Year and month of each start (NaN where missing). The column holds datetimes (a data
    set's) or dates (a request's, which may lie outside pandas' nanosecond range)."""
    if pd.api.types.is_datetime64_any_dtype(agreement_start):
        return (
            agreement_start.dt.year.to_numpy(dtype="float64", na_value=np.nan),
            agreement_start.dt.month.to_numpy(dtype="float64", na_value=np.nan),
        )
    starts = [d if isinstance(d, date) else None for d in agreement_start]
    year = np.array([d.year if d else np.nan for d in starts], dtype="float64")
    month = np.array([d.month if d else np.nan for d in starts], dtype="float64")
    return year, month


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

    ``lists``, ``population`` and ``kommune_average`` as ``ListFacts.of_lists`` reads them.
    Returns the amounts and the reasons some could not be computed.
    """
    facts = ListFacts.of_lists(lists, population, kommune_average)
    amounts, why = _utjamning(facts, average_grant_nok)
    return amounts, _named(why)


def _named(why: dict[str, np.ndarray]) -> list[str]:
    """The reasons that hold for at least one list."""
    return [reason for reason, lists in why.items() if lists.any()]


def _utjamning(
    facts: ListFacts, average_grant_nok: float
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Utjamningstilskudd per list, and per reason the lists it makes not computable."""
    average, inhabitants = facts.kommune_average, facts.inhabitants
    short = average < UTJAMNING_LIST_LENGTH
    small = inhabitants < SMALL_KOMMUNE_INHABITANTS
    large = inhabitants >= SMALL_KOMMUNE_INHABITANTS
    average_unknown = np.isnan(average)
    population_unknown = np.isnan(inhabitants) & (short | average_unknown)
    form_unknown = ~facts.form_known & (short | average_unknown) & ~large
    average_unknown &= ~large
    amount = np.where(
        short & small & facts.self_employed,
        average_grant_nok * (UTJAMNING_LIST_LENGTH - average),
        0.0,
    )
    unknown = population_unknown | form_unknown | average_unknown
    why = {
        "utjamningstilskudd: the practice kommune's average list is unknown": average_unknown,
        "utjamningstilskudd: kommuner.population is missing": population_unknown,
        "utjamningstilskudd: lists.form_of_practice is missing": form_unknown,
    }
    return np.where(unknown, np.nan, amount), why


def grunntilskudd(
    lists: pd.DataFrame, ptb_grant_nok: np.ndarray, scheme_date: date, average_grant_nok: float
) -> tuple[np.ndarray, list[str]]:
    """Annual grunntilskudd per list (NaN where not computable) and why some are not.

    ``lists`` has ``persons`` and, if the data set has them, ``list_cap`` and
    ``agreement_start``; ``ptb_grant_nok`` is each list's PTB grant under the same rule.
    """
    amounts, why = _grunntilskudd(
        ListFacts.of_lists(lists), ptb_grant_nok, scheme_date, average_grant_nok
    )
    return amounts, _named(why)


def _grunntilskudd(
    facts: ListFacts, ptb_grant_nok: np.ndarray, scheme_date: date, average_grant_nok: float
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Grunntilskudd per list, and per reason the lists it makes not computable."""
    short = facts.persons < GRUNNTILSKUDD_PERSONS
    cap, month = facts.list_cap, facts.agreement_month(scheme_date)
    cap_unknown = short & np.isnan(cap)
    start_unknown = short & np.isnan(month) & ~(cap < GRUNNTILSKUDD_PERSONS)
    qualifies = (
        short & (cap >= GRUNNTILSKUDD_PERSONS) & (month >= 1) & (month <= GRUNNTILSKUDD_MONTHS)
    )
    floor = GRUNNTILSKUDD_PERSONS * average_grant_nok
    amount = np.where(qualifies, np.maximum(floor - np.asarray(ptb_grant_nok), 0.0), 0.0)
    why = {
        "grunntilskudd: lists.list_cap is missing": cap_unknown,
        "grunntilskudd: lists.agreement_start is missing": start_unknown,
    }
    return np.where(cap_unknown | start_unknown, np.nan, amount), why


def payment_lines(
    facts: ListFacts,
    ptb_grant_nok: np.ndarray,
    *,
    scheme_date: date,
    average_grant_nok: float,
    rule: Rule | None = None,
) -> dict[str, np.ndarray | list[str]]:
    """``PAYMENT_COLUMNS`` as arrays (see ``list_payments``); ``not_computable`` names, per
    list, the facts that list lacks."""
    ptb = np.asarray(ptb_grant_nok, dtype="float64")
    grunn, why = _grunntilskudd(facts, ptb, scheme_date, average_grant_nok)
    if (rule or rule_for(scheme_date)) == "model0_2023":
        utjamning, utjamning_why = _utjamning(facts, average_grant_nok)
        why = {**why, **utjamning_why}
    else:
        utjamning = np.zeros(len(facts))
    # Each list names only the facts it lacks, in the rules' order.
    reasons = [""] * len(facts)
    for reason, lists in why.items():
        for i in np.flatnonzero(lists):
            reasons[i] = f"{reasons[i]}; {reason}" if reasons[i] else reason
    return {
        "ptb_grant_nok": ptb,
        "grunntilskudd_nok": grunn,
        "utjamningstilskudd_nok": utjamning,
        "total_nok": ptb + grunn + utjamning,
        "not_computable": reasons,
    }


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
    facts = ListFacts.of_lists(lists, population, kommune_average)
    lines = payment_lines(
        facts, ptb_grant_nok, scheme_date=scheme_date, average_grant_nok=average_grant_nok,
        rule=rule,
    )  # fmt: skip
    return pd.DataFrame(lines, index=lists.index)


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
