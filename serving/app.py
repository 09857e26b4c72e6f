"""The app factory: routers from a list, each behind its role, the error handlers of
``serving.error_responses``, the model loaded at start-up, and one middleware for metrics, the
access log and the audit log.

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

from fastapi import APIRouter, Depends, FastAPI
from starlette.concurrency import run_in_threadpool

from features.errors import ConfigurationError
from features.releases import Release
from features.settings import DEVELOPMENT, Settings
from serving.audit import AuditLog, read_request_key
from serving.deps import ServingState, require_role
from serving.error_responses import add_error_handlers
from serving.model_store import ModelStore, apply_registry_http_defaults
from serving.observability import Metrics, RequestWatch, configure_logging
from serving.reload import ModelWatch
from serving.routes import admin, grants, health, metrics, model, policy, whatif
from serving.schemas import ErrorBody
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
# What one service instance answers (``PTB_APIS``): everything, or the grants for payment
# systems apart from what-if for policy teams, so a what-if's CPU never delays a payment.
API_SETS: dict[str, tuple[APIRouter, ...]] = {
    "all": DEFAULT_ROUTERS,
    "payment": (health.router, metrics.router, model.router, grants.router, admin.router),
    "policy": (
        health.router,
        metrics.router,
        model.router,
        whatif.router,
        policy.router,
        admin.router,
    ),
}
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
    reference: Release | str | Path | None = None,
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
    audit : where API requests are recorded; required outside development, with a
        ``request_key`` there.
    metrics_public : ``/metrics`` without a key (True) or for admin keys only.
    model_watch_seconds : re-resolve the serving alias this often and reload when it moved;
        0 never does.
    startup_retry_seconds : retry a start-up that found the registry down and nothing cached.
    reference : the reference release to price with when there is no snapshot (a release, a
        shipped release's name or a release directory); default the shipped release. With a
        snapshot, its own tables are the release.
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
        if audit.request_key is None:
            raise ConfigurationError(
                "audit_key_file",
                f"refusing to start without an audit key in {environment!r}: set "
                "PTB_AUDIT_KEY_FILE (create one with `ptb audit new-key`); unkeyed request "
                "digests of person requests could be reversed by trying every person",
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
        reference=reference,
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
                dependencies=[Depends(require_role(role))],
                responses=AUTH_ERRORS,
            )
    if whatif.router in routers:
        state.warmers.append(lambda served: _warm_whatif(app, served))
    app.add_middleware(RequestWatch, metrics=app_metrics, audit=audit)
    add_error_handlers(app)
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
        "reference": settings.reference,
        "default_model": settings.model or settings.serving_alias,
        "api_keys": keyring,
        "environment": settings.environment,
        "routers": API_SETS[settings.apis],
        "audit": AuditLog(
            settings.audit_log,
            request_key=None
            if settings.audit_key_file is None
            else read_request_key(settings.audit_key_file),
            fsync=settings.audit_fsync,
        ),
        "metrics_public": settings.metrics_public,
        "model_watch_seconds": settings.model_watch_seconds,
        "startup_retry_seconds": settings.startup_retry_seconds,
    }
    return create_app(store, **{**options, **overrides})
