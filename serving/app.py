"""The app factory: routers from a list, one error handler, the model loaded at start-up.

``create_app(store, snapshot=..., default_model=...)`` builds the service from plain values;
``create_app_from_env`` is the uvicorn factory (``uvicorn serving.app:create_app_from_env
--factory``) that reads them from the one settings object.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from features.bundle import BundleError
from features.errors import ContractError, ModelNotFoundError, PtbError, UnknownCodeError
from features.settings import Settings
from serving.deps import ServiceNotReadyError, ServingState, SnapshotMissingError
from serving.model_store import ModelStore, RegistryUnavailableError
from serving.routes import grants, health, model
from serving.schemas import ErrorBody, ErrorDetail
from serving.snapshot import Snapshot

DEFAULT_ROUTERS: tuple[APIRouter, ...] = (health.router, model.router, grants.router)


def create_app(
    store: ModelStore,
    *,
    snapshot: Snapshot | str | Path | None = None,
    default_model: str = "champion",
    routers: Sequence[APIRouter] = DEFAULT_ROUTERS,
    load_in_background: bool = True,
    freeze_gc: bool = True,
) -> FastAPI:
    """The PTB API.

    Parameters
    ----------
    store : the registry the models come from.
    snapshot : a loaded ``Snapshot`` or a data set directory for list look-ups, or None.
    default_model : the alias or version served when a request pins none.
    routers : included in order; later work (metrics, what-if, admin) adds its own.
    load_in_background : load the model after start-up so ``/readyz`` answers 503 meanwhile;
        False loads it before the first request is served.
    freeze_gc : once loaded, move everything to the garbage collector's permanent generation
        (``gc.freeze``), which keeps full collections from stalling requests; tests may skip it.
    """
    state = ServingState(store, snapshot=snapshot, default_model=default_model, freeze_gc=freeze_gc)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if load_in_background:
            threading.Thread(target=state.start, name="ptb-model-load", daemon=True).start()
        else:
            await run_in_threadpool(state.start)
        yield

    app = FastAPI(
        title="PTB: patient-adjusted capitation grant",
        version="1",
        summary="Annual grants per listed person and per GP list, by model version.",
        lifespan=lifespan,
    )
    app.state.serving = state
    for router in routers:
        app.include_router(router)
    app.add_exception_handler(PtbError, ptb_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    return app


def create_app_from_env() -> FastAPI:
    """The uvicorn factory: settings from ``PTB_*`` / ``MLFLOW_TRACKING_URI``."""
    settings = Settings()
    store = ModelStore(
        settings.tracking_uri, settings.registered_model, cache_dir=settings.model_cache_dir
    )
    return create_app(
        store,
        snapshot=settings.data_dir,
        default_model=settings.model or settings.serving_alias,
    )


def _status_and_body(exc: PtbError) -> tuple[int, ErrorBody]:
    """Map the product's errors to HTTP: unknown codes 422, unknown versions 404, ..."""
    message = str(exc)
    if isinstance(exc, UnknownCodeError):
        return 422, ErrorBody(
            error="unknown_code", message=message, field=exc.field, codes=list(exc.codes)
        )
    if isinstance(exc, ModelNotFoundError):
        return 404, ErrorBody(
            error="model_not_found",
            message=message,
            field="model_version",
            available_versions=list(exc.available),
        )
    if isinstance(exc, SnapshotMissingError):
        return 404, ErrorBody(error="not_found", message=message, field="list_id")
    if isinstance(exc, ServiceNotReadyError | RegistryUnavailableError | BundleError):
        return 503, ErrorBody(error="unavailable", message=message)
    if isinstance(exc, ContractError):
        details = [
            ErrorDetail(field=f"{v.table}.{v.column}", rule=v.rule, message=str(v))
            for v in exc.violations
        ]
        return 422, ErrorBody(error="contract_violation", message=message, details=details)
    return 422, ErrorBody(error=type(exc).__name__, message=message)


async def ptb_error_handler(request: Request, exc: Exception) -> JSONResponse:
    status, body = _status_and_body(exc)  # type: ignore[arg-type]
    headers = {"Retry-After": "5"} if status == 503 else None
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status, headers=headers)


def _field(location: Sequence) -> str:
    parts = [str(part) for part in location]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    return ".".join(parts) or "body"


async def validation_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """422 naming each field and the rule it breaks, e.g. ``age: less_than_equal``."""
    details = [
        ErrorDetail(field=_field(error["loc"]), rule=error["type"], message=error["msg"])
        for error in exc.errors()  # type: ignore[attr-defined]
    ]
    summary = "; ".join(f"{d.field}: {d.message}" for d in details[:5])
    more = f" (and {len(details) - 5} more)" if len(details) > 5 else ""
    body = ErrorBody(
        error="validation_error",
        message=f"invalid request: {summary}{more}",
        field=details[0].field if details else None,
        details=details,
    )
    return JSONResponse(body.model_dump(exclude_none=True), status_code=422)
