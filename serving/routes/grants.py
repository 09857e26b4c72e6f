"""Grants per person and per list: ``/v1/grants``.

A handler turns the request into columns, prices them with the model's ``PersonScorer`` (the
same vectorised path that prices a whole snapshot) and wraps the result. Amounts are computed
unrounded and rounded to øre only here, where they are reported. A list's answer (look-up,
POST and the settlement export) carries the whole basistilskudd under the rule of its
``scheme_date`` (``serving.payments``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Literal

import numpy as np
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from features import (
    CodeChange,
    Coded,
    SnapshotMissingError,
    UnknownCodeError,
    csv_chunks,
    round_nok,
)
from features.grants import PersonColumns, apportion_nok, list_totals
from serving.dependencies import SnapshotDep, StateDep, resolve_model
from serving.json_body import json_request_body, read_json_body
from serving.loaded_model import LoadedModel
from serving.openapi import component_ref
from serving.payments import (
    ListPayments,
    kept_payments,
    payment_model,
    posted_basistilskudd,
    snapshot_basistilskudd,
    snapshot_payments,
)
from serving.posted_list import read_posted_list
from serving.pricing import Pricing
from serving.schemas import (
    VERSION_PATTERN,
    CodeChangeOut,
    ErrorBody,
    ListGrant,
    ListGrantRow,
    ListIn,
    PersonGrant,
    PersonIn,
    SchemeInfo,
)
from serving.schemas.common import provenance
from serving.schemas.errors import Responses
from serving.snapshot import ListRow, Snapshot, SnapshotGrants

router = APIRouter(prefix="/v1/grants", tags=["grants"])

ERRORS: Responses = {
    404: {"model": ErrorBody, "description": "unknown model version or list"},
    422: {"model": ErrorBody, "description": "invalid request or unknown code"},
    503: {"model": ErrorBody, "description": "model not loaded yet or registry unreachable"},
}
EXPORT_COLUMNS = tuple(ListGrantRow.model_fields)
EXPORT_CHUNK = 1000


@dataclass(frozen=True)
class Payment:
    """The model that pays on a scheme date, and the date."""

    model: LoadedModel
    scheme_date: date


async def get_payment(
    state: StateDep,
    model_version: Annotated[
        str | None,
        Query(
            pattern=VERSION_PATTERN,
            description="pin a model version (number) or alias; default: the model of the "
            "rule of scheme_date (incumbent before 1 July 2026, the serving model from then)",
        ),
    ] = None,
    scheme_date: Annotated[
        date | None,
        Query(description="payment date whose rule applies, YYYY-MM-DD; default: today"),
    ] = None,
) -> Payment:
    day = scheme_date or date.today()
    return Payment(await payment_model(state, model_version, day), day)


PaymentDep = Annotated[Payment, Depends(get_payment)]


def scheme_info(model: LoadedModel, pricing: Pricing) -> SchemeInfo:
    """The scheme a model prices with on the release in use, built once per loaded version."""
    found = model.views.scheme_info.get(pricing.key)
    if found is None:
        bundle = model.bundle
        rate, budget, average, persons = pricing.period_scheme(model)
        found = SchemeInfo(
            dampening=bundle.scheme.dampening,
            rate_nok=rate,
            budget_nok=budget,
            average_grant_nok=average,
            refugee_rate_nok=bundle.scheme.refugee_rate_nok,
            reference_persons=persons,
            utjamning_moved_nok=bundle.scheme.utjamning_moved_nok,
            centrality_strengthening_nok=(
                {str(c): nok for c, nok in bundle.scheme.centrality_strengthening_nok.items()}
                if bundle.scheme.centrality_strengthening_nok
                else None
            ),
        )
        with model.views.lock:
            found = model.views.scheme_info.setdefault(pricing.key, found)
    return found


def model_fields(
    model: LoadedModel, pricing: Pricing, code_changes: tuple[CodeChange, ...] = ()
) -> dict:
    """The fields every grant answer carries: the model, the release and the scheme used."""
    return {
        **provenance(model),
        "reference_release": pricing.release.name,
        "rate_basis": pricing.rate_basis,
        "code_changes": [CodeChangeOut(**vars(change)) for change in code_changes],
        "scheme": scheme_info(model, pricing),
    }


@router.post(
    "/person",
    response_model=PersonGrant,
    responses=ERRORS,
    openapi_extra=json_request_body(PersonIn, description="one person's indicators"),
)
async def person_grant(request: Request, state: StateDep) -> PersonGrant:
    """One person's relative weight, annual grant and each indicator's contribution in NOK."""
    body = await read_json_body(request, PersonIn)
    model = await resolve_model(state, body.model_version)
    pricing = state.priced()
    columns = PersonColumns.from_records(
        age=[body.age],
        sex=[body.sex],
        grunnkrets=[body.grunnkrets],
        copayment_prev_year=[body.copayment_prev_year],
        refugee_first_year=[body.refugee_first_year],
        practice_kommune=[body.practice_kommune],
    )
    scores = pricing.scorer(model).score(columns, contributions=True)
    grant = float(scores.grant_nok[0])
    priced = scores.contributions or {}  # asked for above
    shares = {factor: float(nok[0]) for factor, nok in priced.items()}
    annual, monthly = round_nok(np.array([grant, grant / 12.0])).tolist()
    return PersonGrant(
        weight=float(scores.weight[0]),
        grant_nok=annual,
        monthly_nok=monthly,
        contributions=apportion_nok(shares, grant),
        **model_fields(model, pricing, scores.code_changes),
    )


@router.post(
    "/list",
    response_model=ListGrant,
    responses=ERRORS,
    openapi_extra=json_request_body(ListIn, description="a GP list and its persons"),
)
async def list_grant(request: Request, state: StateDep) -> ListGrant:
    """A list's total annual grant: its persons' unrounded grants summed, rounded once."""
    posted = await read_posted_list(request)
    scheme_date = posted.scheme_date or date.today()
    model = await payment_model(state, posted.model_version, scheme_date)
    pricing = state.priced()
    columns = PersonColumns.from_records(
        age=posted.age,
        sex=posted.sex,
        grunnkrets=posted.grunnkrets,
        copayment_prev_year=posted.copayment_prev_year,
        refugee_first_year=posted.refugee_first_year,
        practice_kommune=Coded.repeated(posted.practice_kommune, len(posted)),
    )
    try:
        scores = pricing.scorer(model).score(columns)
    except UnknownCodeError as exc:
        where = f"persons.{exc.field}" if exc.field == "grunnkrets" else exc.field
        raise UnknownCodeError(where, exc.codes, exc.reference) from exc
    count, totals, mean_weight = list_totals(
        np.zeros(len(posted), dtype=np.intp), 1, scores.weight, scores.grant_nok
    )
    total = float(totals[0])
    basistilskudd = posted_basistilskudd(
        practice_kommune=posted.practice_kommune,
        persons=int(count[0]),
        ptb_grant_nok=float(round_nok(total)),
        facts=posted.practice_facts,
        snapshot=state.snapshot,
        scheme_date=scheme_date,
        average_grant_nok=pricing.period_scheme(model)[2],
    )
    return ListGrant(
        practice_kommune=posted.practice_kommune,
        persons=int(count[0]),
        total_nok=round_nok(total),
        monthly_nok=round_nok(total / 12.0),
        mean_weight=float(mean_weight[0]),
        **basistilskudd,
        **model_fields(model, pricing, scores.code_changes),
    )


async def snapshot_grants(
    snapshot: Snapshot, model: LoadedModel, pricing: Pricing
) -> SnapshotGrants:
    """The snapshot priced under a model: cached, or computed once in a worker thread."""
    found = snapshot.cached_grants(model.version)
    if found is None:
        scorer = pricing.scorer(model)
        found = await run_in_threadpool(snapshot.grants, model.version, scorer)
    return found


async def snapshot_list_payments(
    snapshot: Snapshot, model: LoadedModel, pricing: Pricing, scheme_date: date
) -> tuple[SnapshotGrants, ListPayments]:
    """The snapshot's PTB grants on the release in use and every list's basistilskudd."""
    grants = await snapshot_grants(snapshot, model, pricing)
    average = pricing.period_scheme(model)[2]
    payments = kept_payments(snapshot, model, scheme_date)
    if payments is None:
        payments = await run_in_threadpool(
            snapshot_payments, snapshot, model, grants, scheme_date, average
        )
    return grants, payments


def _row(row: ListRow, model: LoadedModel, basistilskudd: dict) -> ListGrantRow:
    fields = {k: v for k, v in basistilskudd.items() if k in ListGrantRow.model_fields}
    fields["not_computable"] = "; ".join(basistilskudd["not_computable"])
    return ListGrantRow(
        list_id=row.list_id,
        practice_kommune=row.practice_kommune,
        persons=row.persons,
        total_nok=row.total_nok,
        monthly_nok=round_nok(row.total_nok / 12.0),
        mean_weight=row.mean_weight,
        model_version=model.version,
        **fields,
    )


@router.get("/lists/{list_id}", response_model=ListGrant, responses=ERRORS)
async def snapshot_list_grant(
    list_id: Annotated[str, Path(min_length=1, max_length=64, description="the GP list")],
    payment: PaymentDep,
    snapshot: SnapshotDep,
    state: StateDep,
) -> ListGrant:
    """A list in the loaded registry snapshot: its PTB grant, persons, mean weight and the
    whole basistilskudd under the rule of the scheme date."""
    position = snapshot.list_position(list_id)
    if position is None:
        raise SnapshotMissingError(f"list {list_id!r} is not in the registry snapshot", list_id)
    model, pricing = payment.model, state.priced()
    grants, payments = await snapshot_list_payments(snapshot, model, pricing, payment.scheme_date)
    row = snapshot.list_row(grants, position)
    return ListGrant(
        list_id=row.list_id,
        practice_kommune=row.practice_kommune,
        persons=row.persons,
        total_nok=row.total_nok,
        monthly_nok=round_nok(row.total_nok / 12.0),
        mean_weight=row.mean_weight,
        **snapshot_basistilskudd(payments, position, payment.scheme_date),
        **model_fields(model, pricing),
    )


def _money(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def _csv_chunks(rows: Iterator[ListGrantRow]) -> Iterator[str]:
    """The settlement CSV: quoted by the ``csv`` module, formula-leading text neutralised."""
    cells = (
        (
            row.list_id,
            row.practice_kommune,
            row.persons,
            f"{row.total_nok:.2f}",
            f"{row.monthly_nok:.2f}",
            "" if row.mean_weight is None else f"{row.mean_weight:.6f}",
            row.model_version,
            row.scheme_date.isoformat(),
            row.rule,
            f"{row.ptb_grant_nok:.2f}",
            _money(row.grunntilskudd_nok),
            _money(row.utjamningstilskudd_nok),
            _money(row.basistilskudd_nok),
            row.not_computable or "",
        )
        for row in rows
    )
    return csv_chunks(EXPORT_COLUMNS, cells, rows_per_chunk=EXPORT_CHUNK)


def _jsonl_lines(rows: Iterator[ListGrantRow]) -> Iterator[str]:
    for row in rows:
        yield json.dumps(row.model_dump(mode="json"), separators=(",", ":")) + "\n"


def _chunks(lines: Iterator[str]) -> Iterator[str]:
    batch: list[str] = []
    for line in lines:
        batch.append(line)
        if len(batch) >= EXPORT_CHUNK:
            yield "".join(batch)
            batch = []
    if batch:
        yield "".join(batch)


@router.get(
    "/lists",
    response_model=None,
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "one line per list (a ListGrantRow), streamed, in list_id order: CSV "
            "with a header line, or JSON Lines with one ListGrantRow object per line",
            "content": {
                "text/csv": {
                    "schema": {
                        "type": "string",
                        "description": "a header line, then one line per list: "
                        + ",".join(EXPORT_COLUMNS),
                    },
                    "example": ",".join(EXPORT_COLUMNS)
                    + "\nL00001,0301,1523,1283204.55,106933.71,1.012345,3\n",
                },
                "application/x-ndjson": {"schema": component_ref(ListGrantRow)},
            },
        },
        **ERRORS,
    },
)
async def export_list_grants(
    payment: PaymentDep,
    snapshot: SnapshotDep,
    state: StateDep,
    export_format: Annotated[
        Literal["csv", "jsonl"], Query(alias="format", description="csv or JSON Lines")
    ] = "csv",
) -> StreamingResponse:
    """Every list's annual grant in the snapshot, for the monthly settlement (streamed): the PTB
    grant and the whole basistilskudd under the rule of the scheme date.

    The body is a stream of ``ListGrantRow`` lines, so no response model applies to it.
    """
    model, day, pricing = payment.model, payment.scheme_date, state.priced()
    grants, payments = await snapshot_list_payments(snapshot, model, pricing, day)
    rows = (
        _row(row, model, snapshot_basistilskudd(payments, position, day))
        for position, row in snapshot.list_rows_with_positions(grants)
    )
    chunks = _csv_chunks(rows) if export_format == "csv" else _chunks(_jsonl_lines(rows))
    media = "text/csv; charset=utf-8" if export_format == "csv" else "application/x-ndjson"
    filename = f"list_grants_v{model.version}.{export_format}"
    headers = {
        "Content-Disposition": f'attachment; filename="{filename}"',
        "X-PTB-Model-Version": model.version,
        "X-PTB-Model-Name": model.name,
        "X-PTB-Reference-Release": pricing.release.name.encode("ascii", "replace").decode(),
        "X-PTB-Scheme-Date": day.isoformat(),
    }
    return StreamingResponse(chunks, media_type=media, headers=headers)
