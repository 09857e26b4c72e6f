"""The reform step by step: ``GET /v1/whatif/reform``.

The chain from model 0 to the 2026 rule (``features.reform``), each step priced with the weights
of its own calibration (shipped with the ``model_2026`` version), on the registry snapshot, with
the whole basistilskudd of every list. The answer is computed once per version, snapshot and
date (``serving.whatif.reform``) and warmed for today when a model starts serving.
"""

from __future__ import annotations

import logging
import threading
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query, Request
from starlette.concurrency import run_in_threadpool

from serving.dependencies import SnapshotDep, StateDep, resolve_model
from serving.loaded_model import LoadedModel
from serving.schemas import VERSION_PATTERN, ErrorBody
from serving.schemas.reform import ReformWaterfall, reform_answer
from serving.schemas.whatif import model_used
from serving.whatif.reform import ReformWaterfalls

logger = logging.getLogger(__name__)
_LOCK = threading.Lock()


router = APIRouter(prefix="/v1/whatif", tags=["what-if"])

ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "unknown model version, or no registry snapshot"},
    422: {"model": ErrorBody, "description": "a model without reform steps, or a bad date"},
    503: {"model": ErrorBody, "description": "model or snapshot still loading"},
}


def waterfalls_of(app: FastAPI) -> ReformWaterfalls:
    """The app's kept waterfalls, made on first use."""
    with _LOCK:
        found = getattr(app.state, "reform_waterfalls", None)
        if found is None:
            found = app.state.reform_waterfalls = ReformWaterfalls()
        return found


def warm(app: FastAPI, served: LoadedModel) -> None:
    """Build today's waterfall of a model about to serve, if it carries reform steps."""
    snapshot = app.state.serving.snapshot
    if snapshot is None or not served.bundle.steps:
        return
    try:
        waterfalls_of(app).get(snapshot, served, date.today())
    except Exception:  # noqa: BLE001 - the first request reports the same error
        logger.exception("reform waterfall warm-up failed")


@router.get("/reform", response_model=ReformWaterfall, responses=ERRORS)
async def reform_waterfall(
    request: Request,
    state: StateDep,
    snapshot: SnapshotDep,
    model_version: Annotated[
        str | None,
        Query(
            pattern=VERSION_PATTERN,
            description="the model_2026 version whose step calibrations price the chain; "
            "default: the serving model",
        ),
    ] = None,
    scheme_date: Annotated[
        date | None,
        Query(description="date the agreement months of grunntilskudd count to; default today"),
    ] = None,
    lists: Annotated[bool, Query(description="include every list's row")] = True,
) -> ReformWaterfall:
    """The reform step by step: NOK moved at each step per list, kommune, centrality class,
    kommune size band and form of practice; the steps add up to each list's change."""
    model = await resolve_model(state, model_version)
    day = scheme_date or date.today()
    waterfalls = waterfalls_of(request.app)
    tables = waterfalls.cached(snapshot, model, day)
    if tables is None:
        tables = await run_in_threadpool(waterfalls.get, snapshot, model, day)
    return reform_answer(
        tables, model_used(model), day, lists=lists, reference_release=snapshot.release.name
    )
