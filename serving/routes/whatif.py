"""What-if: ``POST /v1/whatif`` and ``POST /v1/whatif/lists.csv``.

The body is a scenario, the same fields as a scenario file (``{"dampening": 0.5}``), parsed by
``serving.whatif.parse_scenario`` so the API refuses what the CLI refuses, with the same
messages. The baseline is the served model as it is (or the version ``?baseline=`` pins); the
snapshot is the service's registry snapshot. A what-if prices a copy of the scheme: the model
the service pays grants with never changes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from features import ModelNotFoundError, csv_chunks
from serving.dependencies import StateDep, get_snapshot, resolve_model
from serving.json_body import json_request_body, read_json_value
from serving.loaded_model import LoadedModel
from serving.schemas import VERSION_PATTERN, ErrorBody
from serving.schemas.common import json_number
from serving.schemas.errors import Responses
from serving.schemas.whatif import (
    HISTOGRAM_BINS,
    KommuneOrder,
    ListChange,
    Redistribution,
    list_changes,
    redistribution,
)
from serving.state import ServingState
from serving.whatif import (
    TOLERANCE_NOK,
    TOP_N,
    Scenario,
    WhatIfEngines,
    WhatIfProcess,
    parse_scenario,
    run_scenario,
)

logger = logging.getLogger(__name__)

CSV_CHUNK = 1000
_ENGINES_LOCK = threading.Lock()


def engines_of(app: FastAPI) -> WhatIfEngines:
    """The app's what-if engines, made on first use."""
    with _ENGINES_LOCK:
        found = getattr(app.state, "whatif_engines", None)
        if found is None:
            state: ServingState = app.state.serving
            source = state.snapshot.source if state.snapshot is not None else ""
            separate = getattr(app.state, "whatif_process", False) and source
            found = app.state.whatif_engines = WhatIfEngines(
                pricing=lambda: state.pricing,
                process=WhatIfProcess(source) if separate else None,
            )
        return found


def warm(app: FastAPI, model: LoadedModel) -> None:
    """Build ``model``'s what-if engine on the served snapshot, so its first what-if is fast.

    The app factory registers it with the serving state, which calls it for each model about
    to serve: the start-up's (in the background) and a reload's (before the switch).
    """
    state: ServingState = app.state.serving
    if state.snapshot is not None:
        engines_of(app).warm(state.snapshot, model)


router = APIRouter(prefix="/v1/whatif", tags=["what-if"])

ERRORS: Responses = {
    404: {
        "model": ErrorBody,
        "description": "unknown model version (model_version, phase_in.from_version, baseline), "
        "or a service without a registry snapshot",
    },
    422: {"model": ErrorBody, "description": "invalid scenario: the field and what is wrong"},
    503: {"model": ErrorBody, "description": "model or snapshot still loading"},
}
SCENARIO_BODY = json_request_body(
    Scenario,
    required=False,
    description="the scenario: the fields of a scenario file; an empty object changes nothing",
    examples={
        "dampened": {"summary": "the 2023 dampening", "value": {"dampening": 0.5}},
        "centrality": {
            "summary": "strengthened centrality supplement, same budget",
            "value": {"centrality_supplement_nok": {"5": 500, "6": 1000}},
        },
        "list_rules": {
            "summary": "floor and break point",
            "value": {
                "floor_persons": 500,
                "break_point_persons": 1500,
                "break_point_rate_share": 0.6,
            },
        },
    },
)


async def read_scenario(request: Request) -> Scenario:
    """The request body as a scenario; an empty body is the empty scenario.

    Strict JSON, as for the grant routes (``serving.request_bodies``): a JSON content type, no
    NaN or Infinity, no repeated key, bounded size and depth; refused as on every route. A
    scenario that is not valid raises ``ScenarioError``, which the central mapping answers (422
    ``invalid_scenario``).
    """
    return parse_scenario(await read_json_value(request, empty={}))


async def _baseline(state: ServingState, ref: str | None) -> LoadedModel:
    try:
        return await resolve_model(state, ref)
    except ModelNotFoundError as exc:
        raise exc.for_field("baseline") from None


Baseline = Annotated[
    str | None,
    Query(
        pattern=VERSION_PATTERN,
        description="the current scheme's model (version or alias); default: the served model",
    ),
]
Top = Annotated[int, Query(ge=1, le=1000, description="lists in largest_gains and largest_losses")]
Tolerance = Annotated[
    float, Query(ge=0, description="a list moving by at most this many NOK a year is unchanged")
]


async def _run(request: Request, state: ServingState, baseline_ref: str | None, **options):
    """Scenario, snapshot, baseline, then the run in a worker thread; product errors raised."""
    scenario = await read_scenario(request)
    snapshot = await get_snapshot(state)
    baseline = await _baseline(state, baseline_ref)
    fresh = "no-cache" in request.headers.get("cache-control", "").lower()
    found = await run_in_threadpool(
        run_scenario,
        engines_of(request.app),
        state.store,
        snapshot,
        baseline,
        scenario,
        fresh=fresh,
        **options,
    )
    return (baseline, *found)


@router.post(
    "",
    response_model=Redistribution,
    responses=ERRORS,
    openapi_extra=SCENARIO_BODY,
)
async def whatif(
    request: Request,
    state: StateDep,
    baseline: Baseline = None,
    lists: Annotated[bool, Query(description="include every list's change, one page")] = False,
    offset: Annotated[int, Query(ge=0, description="first list of the page")] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000, description="lists per page")] = 1000,
    kommuner: Annotated[int, Query(ge=0, le=1000, description="kommuner in the answer")] = 20,
    kommune_order: Annotated[
        KommuneOrder, Query(description="what ranks the kommuner (absolute value)")
    ] = "change_nok",
    bins: Annotated[
        int, Query(ge=3, le=401, description="at most this many histogram bins (round widths)")
    ] = HISTOGRAM_BINS,
    top: Top = TOP_N,
    tolerance_nok: Tolerance = TOLERANCE_NOK,
):
    """Price a scenario against the current scheme: totals, winners and losers, and where.

    Per centrality class, the distribution of the per-list change (quantiles and histogram),
    the largest gains and losses, the kommuner that move most, and with ``?lists=true`` every
    list (paged by ``offset`` and ``limit``, in ``list_id`` order). Annual NOK.
    """
    model, result, scenario_model, old = await _run(
        request, state, baseline, top_n=top, tolerance_nok=tolerance_nok
    )
    return await run_in_threadpool(
        redistribution,
        result,
        baseline=model,
        scenario_model=scenario_model,
        phase_in_from=old,
        kommuner=kommuner,
        kommune_order=kommune_order,
        list_page=(offset, limit) if lists else None,
        histogram_bins=bins,
        reference_release=state.priced().release.name,
    )


def _csv_chunks(rows: list[dict]) -> Iterator[str]:
    """Every list's change as CSV: quoted by the ``csv`` module, formula-leading text (a
    kommune's name) neutralised."""
    cells = (
        (
            row["list_id"],
            row["practice_kommune"],
            row["kommune_name"],
            row["centrality"],
            row["persons"],
            f"{row['baseline_nok']:.2f}",
            f"{row['scenario_nok']:.2f}",
            f"{row['change_nok']:.2f}",
            "" if json_number(row["change_pct"]) is None else f"{row['change_pct']:.6f}",
            row["outcome"],
        )
        for row in rows
    )
    return csv_chunks(list(ListChange.model_fields), cells, rows_per_chunk=CSV_CHUNK)


@router.post(
    "/lists.csv",
    response_model=None,
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "one line per list (a ListChange), in list_id order",
            "content": {
                "text/csv": {
                    "schema": {
                        "type": "string",
                        "description": "a header line, then one line per list: "
                        + ",".join(ListChange.model_fields),
                    }
                }
            },
        },
        **ERRORS,
    },
    openapi_extra=SCENARIO_BODY,
)
async def whatif_lists_csv(
    request: Request,
    state: StateDep,
    baseline: Baseline = None,
    tolerance_nok: Tolerance = TOLERANCE_NOK,
):
    """Every list's annual grant under the baseline and the scenario, as CSV (streamed)."""
    model, result, scenario_model, _ = await _run(
        request, state, baseline, top_n=1, tolerance_nok=tolerance_nok
    )
    rows = list_changes(result)[list(ListChange.model_fields)].to_dict(orient="records")
    headers = {
        "Content-Disposition": 'attachment; filename="whatif_lists.csv"',
        "X-PTB-Baseline-Version": model.version,
        "X-PTB-Scenario-Version": scenario_model.version,
    }
    return StreamingResponse(
        _csv_chunks(rows), media_type="text/csv; charset=utf-8", headers=headers
    )
