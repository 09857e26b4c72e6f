"""The whole basistilskudd in payment answers: which model pays on a date, and the three lines.

A payment date (``scheme_date``, default today) decides the legislated rule
(``features.rule_for``): before 1 July 2026 model 0 pays PTB, with utjamningstilskudd beside
it, and the ``incumbent`` alias names that model; from then on the 2026 rule pays, served by
the serving model. A model whose rule is not the date's is refused for a payment answer, so a
list is never paid the 2026 PTB with the 2023 utjamningstilskudd; so is a challenger that is not
the champion (served or pinned by any other name), as only a documented promotion makes it pay.
No HTTP here.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

import numpy as np

from features import (
    PAYMENT_COLUMNS,
    ListFacts,
    RuleMismatchError,
    UnpromotedChallengerError,
    dataset_payments,
    is_challenger,
    model_rule,
    payment_lines,
    round_nok,
    rule_for,
)
from serving.dependencies import resolve_model
from serving.loaded_model import LoadedModel
from serving.schemas import Basistilskudd
from serving.snapshot import Snapshot, SnapshotGrants
from serving.state import ServingState

INCUMBENT = "incumbent"  # the registry alias of the newest model-0 (2023 rule) version
CHAMPION = "champion"


async def payment_model(
    state: ServingState, ref: str | int | None, scheme_date: date
) -> LoadedModel:
    """The model that pays on ``scheme_date``: the one asked for, or the rule's own.

    Without ``ref``, a date under the 2023 rule is paid by the ``incumbent`` alias and a date
    under the 2026 rule by the serving model. Raises ``RuleMismatchError`` when the model does
    not implement the date's rule.
    """
    rule = rule_for(scheme_date)
    if ref is None and rule == "model0_2023":
        ref = INCUMBENT
    model = await resolve_model(state, ref)
    if model_rule(model.name) != rule:
        raise RuleMismatchError(model.version, model.name, rule, scheme_date.isoformat())
    if is_challenger(model.name) and model.alias != CHAMPION:
        # Only ``ptb promote --unlegislated-reason`` moves champion to a challenger.
        raise UnpromotedChallengerError(model.version, model.name)
    return model


def _basistilskudd(row: Mapping[str, Any], scheme_date: date) -> dict:
    """The answer's fields from one list's ``PAYMENT_COLUMNS``, rounded to øre."""

    def money(value: float) -> float | None:
        return None if np.isnan(value) else float(round_nok(float(value)))

    total = money(row["total_nok"])
    return {
        "scheme_date": scheme_date,
        "rule": rule_for(scheme_date),
        "ptb_grant_nok": money(row["ptb_grant_nok"]),
        "grunntilskudd_nok": money(row["grunntilskudd_nok"]),
        "utjamningstilskudd_nok": money(row["utjamningstilskudd_nok"]),
        "basistilskudd_nok": total,
        "basistilskudd_monthly_nok": None
        if total is None
        else float(round_nok(float(row["total_nok"]) / 12.0)),
        "not_computable": [r for r in str(row["not_computable"]).split("; ") if r],
    }


# Every snapshot list's PAYMENT_COLUMNS, in the snapshot's list order: column arrays, so one
# list's answer reads five cells, not five pandas columns.
ListPayments = dict[str, np.ndarray]


def kept_payments(snapshot: Snapshot, model: LoadedModel, scheme_date: date) -> ListPayments | None:
    """The payments ``snapshot_payments`` worked out already for this date, if any: a
    request can take them without a trip to the thread pool."""
    return model.views.payments.cached(snapshot, (scheme_date,))


def snapshot_payments(
    snapshot: Snapshot,
    model: LoadedModel,
    grants: SnapshotGrants,
    scheme_date: date,
    average_grant_nok: float | None = None,
) -> ListPayments:
    """Every list's ``PAYMENT_COLUMNS`` in the snapshot's list order; kept per date on the
    loaded model (a version and a snapshot never change).

    ``average_grant_nok`` is the period's national average rate (the snapshot's release's,
    ``Pricing.period_scheme``); default the model's."""

    def work_out() -> ListPayments:
        found = dataset_payments(
            snapshot.dataset,
            grants.list_total_nok,
            grants.list_persons,
            scheme_date=scheme_date,
            average_grant_nok=average_grant_nok or model.bundle.scheme.average_grant_nok,
        )
        return {column: found[column].to_numpy() for column in PAYMENT_COLUMNS}

    return model.views.payments.get(snapshot, (scheme_date,), work_out)


def snapshot_basistilskudd(payments: ListPayments, position: int, scheme_date: date) -> dict:
    """One snapshot list's basistilskudd fields."""
    return _basistilskudd(
        {column: values[position] for column, values in payments.items()}, scheme_date
    )


def posted_basistilskudd(
    *,
    practice_kommune: str,
    persons: int,
    ptb_grant_nok: float,
    facts: dict,
    snapshot: Snapshot | None,
    scheme_date: date,
    average_grant_nok: float,
) -> dict:
    """A posted list's basistilskudd fields. Its kommune's average list length and population
    come from the snapshot; without one, utjamningstilskudd is not computable."""
    average = inhabitants = None
    if snapshot is not None:
        average = snapshot.kommune_average_list_length.get(practice_kommune)
        population = snapshot.kommune_population
        inhabitants = None if population is None else population.get(practice_kommune)
    one_list = ListFacts.of_one(
        persons=persons,
        list_cap=facts.get("list_cap"),
        agreement_start=facts.get("agreement_start"),
        form_of_practice=facts.get("form_of_practice"),
        kommune_average=average,
        inhabitants=inhabitants,
    )
    paid = payment_lines(
        one_list,
        np.array([ptb_grant_nok]),
        scheme_date=scheme_date,
        average_grant_nok=average_grant_nok,
    )
    return _basistilskudd({column: values[0] for column, values in paid.items()}, scheme_date)


__all__ = [
    "Basistilskudd",
    "RuleMismatchError",
    "ListPayments",
    "kept_payments",
    "payment_model",
    "posted_basistilskudd",
    "snapshot_basistilskudd",
    "snapshot_payments",
]
