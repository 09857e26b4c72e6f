"""The app factory: routers from a list, each behind its role, one error handler, the model
loaded at start-up, and one middleware for metrics, the access log and the audit log.

``create_app(store, snapshot=..., default_model=..., api_keys=..., audit=...)`` builds the
service from plain values; ``create_app_from_env`` is the uvicorn factory (``uvicorn
serving.app:create_app_from_env --factory``) that reads them from the one settings object.

Access is decided by path, in ``ACCESS``, where a router is included: ``/v1/grants`` and
``/v1/model`` need role ``payment``, ``/v1/whatif`` ``policy``, ``/v1/admin`` ``admin``; probes,
the policy page and its static files are open, ``/metrics`` too unless ``metrics_public`` is
off. A path under ``/v1/`` that ``ACCESS`` does not name needs ``admin``: a new router is closed
until someone decides otherwise. Without API keys the service runs open, and only in
development.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from features.bundle import BundleError
from features.errors import (
    AuditLogError,
    AuthenticationError,
    ConfigurationError,
    ContractError,
    ModelNotFoundError,
    PermissionDeniedError,
    PtbError,
    ReloadInProgressError,
    ReloadRefused,
    ScenarioError,
    UnknownCodeError,
    UnknownQueryError,
)
from features.settings import DEVELOPMENT, Settings
from serving.audit import AuditLog
from serving.deps import (
    ServiceNotReadyError,
    ServingState,
    SnapshotMissingError,
    refuse_unknown_query,
    require_role,
)
from serving.model_store import ModelStore, RegistryUnavailableError, apply_registry_http_defaults
from serving.observability import Metrics, RequestWatch, configure_logging
from serving.reload import ModelWatch
from serving.routes import admin, grants, health, metrics, model, policy, whatif
from serving.schemas import ErrorBody, ErrorDetail
from serving.security import KeyRing, Role
from serving.snapshot import Snapshot

logger = logging.getLogger(__name__)

DEFAULT_ROUTERS: tuple[APIRouter, ...] = (
    health.router,
    metrics.router,
    model.router,
    grants.router,
    whatif.router,
    policy.router,
    admin.router,
)
# Path prefix -> the role it needs (None: open). The first match wins; see the module docstring.
ACCESS: tuple[tuple[str, Role | None], ...] = (
    ("/v1/admin", "admin"),
    ("/v1/whatif", "policy"),
    ("/v1/grants", "payment"),
    ("/v1/model", "payment"),
    ("/v1/", "admin"),
    ("/healthz", None),
    ("/readyz", None),
    ("/policy", None),
    ("/static", None),
)
METRICS_PATH = "/metrics"
AUTH_ERRORS = {
    401: {"model": ErrorBody, "description": "no API key, or not a valid one"},
    403: {"model": ErrorBody, "description": "the API key's role may not use this endpoint"},
}


def path_role(path: str, *, metrics_public: bool = True) -> Role | None:
    """The role a path needs: ``ACCESS``'s first matching prefix; unlisted paths need admin."""
    if path == METRICS_PATH:
        return None if metrics_public else "admin"
    for prefix, role in ACCESS:
        within = path.startswith(prefix) if prefix.endswith("/") else path.startswith(prefix + "/")
        if within or path == prefix:
            return role
    return "admin"


def router_role(router: APIRouter, *, metrics_public: bool = True) -> Role | None:
    """The one role every path of a router needs; a router mixing levels is refused."""
    roles = {
        path_role(path, metrics_public=metrics_public)
        for path in (getattr(route, "path", None) for route in router.routes)
        if path is not None
    }
    if len(roles) > 1:
        paths = sorted(getattr(route, "path", "?") for route in router.routes)
        raise ConfigurationError(
            "routers", f"a router mixes access levels {sorted(map(str, roles))}: {paths}"
        )
    return roles.pop() if roles else "admin"


def create_app(
    store: ModelStore,
    *,
    snapshot: Snapshot | str | Path | None = None,
    default_model: str = "champion",
    routers: Sequence[APIRouter] = DEFAULT_ROUTERS,
    load_in_background: bool = True,
    freeze_gc: bool = True,
    api_keys: KeyRing | None = None,
    environment: str = DEVELOPMENT,
    audit: AuditLog | None = None,
    metrics_public: bool = True,
    model_watch_seconds: float = 0.0,
    startup_retry_seconds: float = 0.0,
) -> FastAPI:
    """The PTB API.

    Parameters
    ----------
    store : the registry the models come from.
    snapshot : a loaded ``Snapshot`` or a data set directory for list look-ups, or None.
    default_model : the alias or version served when a request pins none.
    routers : included in order, each behind the role its paths need (``ACCESS``).
    load_in_background : load the model after start-up so ``/readyz`` answers 503 meanwhile;
        False loads it before the first request is served.
    freeze_gc : once loaded, move everything to the garbage collector's permanent generation
        (``gc.freeze``), which keeps full collections from stalling requests; tests may skip it.
    api_keys : the keys that may call the API; None runs the service open, which only
        ``environment="development"`` allows (``ConfigurationError`` otherwise).
    environment : ``development``, or anything else for a service that must be closed.
    audit : where API requests are recorded; required outside development.
    metrics_public : ``/metrics`` without a key (True) or for admin keys only.
    model_watch_seconds : re-resolve the serving alias this often and reload when it moved;
        0 never does.
    startup_retry_seconds : retry a start-up that found the registry down and nothing cached.
    """
    environment = environment.strip().lower()
    if environment != DEVELOPMENT:
        if api_keys is None:
            raise ConfigurationError(
                "api_keys_file",
                f"refusing to start without API keys in {environment!r}: set PTB_API_KEYS_FILE "
                "(create keys with `ptb keys add`), or PTB_ENVIRONMENT=development on a "
                "developer's machine",
            )
        if audit is None:
            raise ConfigurationError(
                "audit_log", f"refusing to start without an audit log in {environment!r}"
            )
    elif api_keys is None:
        logger.warning(
            "NO API KEYS: the service answers anyone, as role admin (PTB_ENVIRONMENT=development"
            " without PTB_API_KEYS_FILE). Never run it like this with real data."
        )

    state = ServingState(
        store,
        snapshot=snapshot,
        default_model=default_model,
        freeze_gc=freeze_gc,
        startup_retry_seconds=startup_retry_seconds,
    )
    app_metrics = Metrics(state, audit)

    def reload_counted(outcome, error) -> None:
        result = "refused" if error is not None else "switched"
        app_metrics.reloads.labels("watch", result).inc()

    watch = (
        ModelWatch(state, model_watch_seconds, reload_counted) if model_watch_seconds > 0 else None
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        refuse_unguarded_routes(app)
        if audit is not None:
            audit.open()
        if load_in_background:
            threading.Thread(target=state.start, name="ptb-model-load", daemon=True).start()
        else:
            await run_in_threadpool(state.start)
        if watch is not None:
            watch.start()
        try:
            yield
        finally:
            state.stopping.set()
            if watch is not None:
                watch.stop()
            if audit is not None:
                audit.close()

    app = FastAPI(
        title="PTB: patient-adjusted capitation grant",
        version="1",
        summary="Annual grants per listed person and per GP list, by model version.",
        lifespan=lifespan,
    )
    app.state.serving = state
    app.state.keyring = api_keys
    app.state.metrics = app_metrics
    app.state.audit = audit
    for router in routers:
        role = router_role(router, metrics_public=metrics_public)
        if role is None:
            app.include_router(router)
        else:
            app.include_router(
                router,
                dependencies=[Depends(require_role(role)), Depends(refuse_unknown_query)],
                responses=AUTH_ERRORS,
            )
    if whatif.router in routers:
        state.warmers.append(lambda served: _warm_whatif(app, served))
    app.add_middleware(RequestWatch, metrics=app_metrics, audit=audit)
    app.add_exception_handler(PtbError, ptb_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
    return app


def _warm_whatif(app: FastAPI, served) -> None:
    """Build the what-if engine of a model about to serve, so its first what-if is fast."""
    state: ServingState = app.state.serving
    if state.snapshot is not None:
        whatif.engines_of(app).get(state.snapshot, served)


def refuse_unguarded_routes(app: FastAPI) -> None:
    """Refuse to start if an API operation has no key requirement (a router added unguarded)."""
    unguarded = [
        f"{method.upper()} {path}"
        for path, operations in app.openapi().get("paths", {}).items()
        if path.startswith("/v1/")
        for method, operation in operations.items()
        if isinstance(operation, dict) and not operation.get("security")
    ]
    if unguarded:
        raise ConfigurationError(
            "routers",
            "API routes without an access rule (pass their router to create_app(routers=...)): "
            + ", ".join(unguarded),
        )


def create_app_from_env() -> FastAPI:
    """The uvicorn factory: settings from ``PTB_*`` / ``MLFLOW_TRACKING_URI``.

    Run it with ``--no-access-log``: the ``ptb.access`` log line replaces uvicorn's.
    """
    settings = Settings()
    configure_logging(settings.log_format, settings.log_level)
    return create_app_from_settings(settings)


def create_app_from_settings(settings: Settings, **overrides) -> FastAPI:
    """The service as a deployment configures it: keys, audit log, registry limits, snapshot."""
    apply_registry_http_defaults()
    store = ModelStore(
        settings.tracking_uri,
        settings.registered_model,
        cache_dir=settings.model_cache_dir,
        offline_seconds=settings.registry_retry_seconds,
    )
    keyring = None if settings.api_keys_file is None else KeyRing.load(settings.api_keys_file)
    options = {
        "snapshot": settings.data_dir,
        "default_model": settings.model or settings.serving_alias,
        "api_keys": keyring,
        "environment": settings.environment,
        "audit": AuditLog(settings.audit_log),
        "metrics_public": settings.metrics_public,
        "model_watch_seconds": settings.model_watch_seconds,
        "startup_retry_seconds": settings.startup_retry_seconds,
    }
    return create_app(store, **{**options, **overrides})


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
        field = "list_id" if exc.list_id is not None else None
        return 404, ErrorBody(error="not_found", message=message, field=field)
    if isinstance(exc, ScenarioError):
        details = [ErrorDetail(field=f, rule="scenario", message=m) for f, m in exc.problems]
        return 422, ErrorBody(
            error="invalid_scenario", message=message, field=exc.field, details=details or None
        )
    if isinstance(exc, AuthenticationError):
        return 401, ErrorBody(error="unauthorized", message=message)
    if isinstance(exc, PermissionDeniedError):
        return 403, ErrorBody(error="forbidden", message=message)
    if isinstance(exc, ReloadInProgressError):
        return 409, ErrorBody(error="reload_in_progress", message=message, field="model")
    if isinstance(exc, ReloadRefused):
        details = [
            ErrorDetail(field="model", rule=check.name, message=check.detail)
            for check in exc.checks
            if not check.passed
        ]
        return 422, ErrorBody(
            error="reload_refused", message=message, field="model", details=details or None
        )
    if isinstance(
        exc, ServiceNotReadyError | RegistryUnavailableError | BundleError | AuditLogError
    ):
        return 503, ErrorBody(error="unavailable", message=message)
    if isinstance(exc, UnknownQueryError):
        details = [
            ErrorDetail(field=name[:64], rule="unknown_parameter", message="not taken here")
            for name in exc.unknown[:20]
        ]
        return 422, ErrorBody(
            error="validation_error", message=message, field=exc.unknown[0][:64], details=details
        )
    if isinstance(exc, ContractError):
        details = [
            ErrorDetail(field=f"{v.table}.{v.column}", rule=v.rule, message=str(v))
            for v in exc.violations
        ]
        return 422, ErrorBody(error="contract_violation", message=message, details=details)
    return 422, ErrorBody(error=type(exc).__name__, message=message)


async def ptb_error_handler(request: Request, exc: Exception) -> JSONResponse:
    status, body = _status_and_body(exc)  # type: ignore[arg-type]
    headers = None
    if status == 503:
        headers = {"Retry-After": "5"}
    elif status == 401:
        headers = {"WWW-Authenticate": 'Bearer realm="ptb"'}
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status, headers=headers)


def _field(location: Sequence) -> str:
    parts = [str(part) for part in location]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    return ".".join(parts) or "body"


async def validation_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """422 naming each field and the rule it breaks, e.g. ``age: less_than_equal``."""
    errors = exc.errors()  # type: ignore[attr-defined]
    syntax = next((error for error in errors if error["type"] == "json_invalid"), None)
    if syntax is not None:
        return JSONResponse(_invalid_json(syntax).model_dump(exclude_none=True), status_code=422)
    details = [
        ErrorDetail(field=_field(error["loc"]), rule=error["type"], message=error["msg"])
        for error in errors
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


def _invalid_json(error: dict) -> ErrorBody:
    """A body that is not JSON: where it breaks, as pydantic or ``json`` found it."""
    where = error["loc"][1:]  # json.loads gives the character offset after "body"
    found = (error.get("ctx", {}).get("error") or error["msg"]).removeprefix("Invalid JSON: ")
    message = f"body is not valid JSON: {found}"
    if where:
        message += f" (at character {where[0]})"
    return ErrorBody(
        error="invalid_json",
        message=message,
        field="body",
        details=[ErrorDetail(field="body", rule="json_invalid", message=message)],
    )


async def http_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """Starlette's own errors in the API's error shape; a body that is not text JSON is a 422."""
    status = exc.status_code  # type: ignore[attr-defined]
    detail = str(getattr(exc, "detail", "") or "")
    headers = getattr(exc, "headers", None)
    if status == 400 and "parsing the body" in detail:
        body = ErrorBody(
            error="invalid_json",
            message="body is not JSON text (UTF-8)",
            field="body",
            details=[ErrorDetail(field="body", rule="json_invalid", message=detail)],
        )
        return JSONResponse(body.model_dump(exclude_none=True), status_code=422)
    kinds = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}
    body = ErrorBody(error=kinds.get(status, "http_error"), message=detail or f"HTTP {status}")
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status, headers=headers)
