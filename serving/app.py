"""The app factory, a composition root: routers from a list, each behind the role its paths
need (``serving.access.rules``), the error handlers of ``serving.error_responses``, the serving
state (``serving.state``) started in the lifespan, and the middlewares, outermost first:
security headers on every answer (``serving.security_headers``); metrics and the access log
(``serving.observability``); the audit trail, which writes each API request's record before its
answer (``serving.access.audit_trail``); the key and role checked before any body is read
(``serving.access.gate``); the body read within its route's limit and parsed as strict JSON
(``serving.request_bodies``). Swagger UI and ReDoc are served from the service's own files
(``fastapi-offline``), so ``/docs`` works without the internet.

``create_app(store, snapshot=..., default_model=..., api_keys=..., audit=...)`` builds the
service from plain values; ``create_app_from_settings`` from the one settings object, which
the uvicorn factory ``serving.worker:create_app_from_env`` reads after setting up the logs.
Without API keys the service runs open, and only in development.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from functools import partial
from pathlib import Path

from fastapi import APIRouter, Depends, FastAPI
from fastapi_offline import FastAPIOffline
from starlette.concurrency import run_in_threadpool

from features import DEVELOPMENT, Release, Settings
from serving.access.attempts import FailedAttempts
from serving.access.audit import AuditLog, read_request_key
from serving.access.audit_trail import AuditTrail
from serving.access.deployment import refuse_open_deployment
from serving.access.gate import AccessGate, GuardedRoutes, route_role
from serving.access.guard import require_role
from serving.access.keys import KeyRing
from serving.access.rules import AUTH_ERRORS, refuse_unguarded_routes, router_role
from serving.error_responses import add_error_handlers, error_response
from serving.instance import InstanceModel
from serving.model_store import ModelStore, apply_registry_http_defaults
from serving.observability import Metrics, RequestWatch, forget_worker
from serving.openapi import name_components
from serving.readiness import problems as readiness_problems
from serving.reload import ModelWatch, prepare_model
from serving.request_bodies import BodyLimit, BodyLimits
from serving.request_bodies import body_limits as configured_limits
from serving.routes import admin, grants, health, metrics, model, policy, reform, whatif
from serving.security_headers import SecurityHeaders
from serving.snapshot import Snapshot
from serving.state import ServingState

DEFAULT_ROUTERS: tuple[APIRouter, ...] = (
    health.router,
    metrics.router,
    model.router,
    grants.router,
    whatif.router,
    reform.router,
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
        reform.router,
        policy.router,
        admin.router,
    ),
}


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
    instance_dir: str | Path | None = None,
    instance_workers: int = 0,
    whatif_process: bool = False,
    body_limits: Mapping[str, BodyLimit] | None = None,
    key_attempts: FailedAttempts | None = None,
) -> FastAPI:
    """The PTB API.

    Parameters
    ----------
    store : the registry the models come from.
    snapshot : a loaded ``Snapshot`` or a data set directory for list look-ups, or None.
    default_model : the alias or version served when a request pins none.
    routers : included in order, each behind the role its paths need (``serving.access.rules``).
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
    instance_dir : shared with the other workers of this instance, so that all serve one
        model and switch together (``serving.instance``); None for a single worker.
    instance_workers : the workers of the instance; ``/readyz`` is 503 until all are ready.
    whatif_process : price what-ifs in a child process (``serving.whatif.process``), so a
        national scenario never holds the interpreter a grant request waits for.
    body_limits : the most a request body may hold per path (``serving.request_bodies``).
    key_attempts : the limits on failed key checks (``serving.access.attempts``); default
        10 per key id and 20 per address a minute.
    """
    environment = environment.strip().lower()
    refuse_open_deployment(environment, api_keys, audit)
    state = ServingState(
        store,
        snapshot=snapshot,
        default_model=default_model,
        freeze_gc=freeze_gc,
        startup_retry_seconds=startup_retry_seconds,
        reference=reference,
    )
    if instance_dir is not None:
        state.instance = InstanceModel(
            instance_dir,
            prepare=lambda version, ref: prepare_model(state, version, ref),
            switch=lambda model, ref: state.switch(model, default_ref=ref),
            status=state.worker_status,
            expected_workers=instance_workers,
        )
    state.readiness = lambda: readiness_problems(api_keys, audit, store)
    app_metrics = Metrics(state)
    watch = _model_watch(state, app_metrics, model_watch_seconds)
    app = FastAPIOffline(
        title="PTB: patient-adjusted capitation grant",
        version="1",
        summary="Annual grants per listed person and per GP list, by model version.",
        lifespan=_lifespan(state, audit, watch, load_in_background),
        # Operation ids are the handlers' names (person_grant, whatif), what a generated client
        # calls its functions.
        generate_unique_id_function=lambda route: route.name,
    )
    name_components(app)
    app.state.serving = state
    app.state.keyring = api_keys
    app.state.metrics = app_metrics
    app.state.audit = audit
    app.state.whatif_process = whatif_process
    _include_routers(app, routers, metrics_public)
    if whatif.router in routers:
        state.warmers.append(partial(whatif.warm, app))
    if reform.router in routers:
        state.warmers.append(partial(reform.warm, app))
    app.add_middleware(BodyLimits, limits=body_limits)
    if api_keys is not None:
        app.add_middleware(
            AccessGate,
            keyring=api_keys,
            role_of=lambda scope: route_role(app.state.guarded_routes, scope),
            answer=error_response,
            attempts=key_attempts,
            on_refusal=lambda refused: app_metrics.auth_refusals.labels(refused.reason).inc(),
        )
    if audit is not None:
        app.add_middleware(AuditTrail, audit=audit, metrics=app_metrics)
    app.add_middleware(RequestWatch, metrics=app_metrics)  # it starts RequestFacts
    add_error_handlers(app)
    with_security_headers(app)
    return app


def with_security_headers(app: FastAPI) -> None:
    """Wrap the whole middleware stack, Starlette's own 500 answers included, in the security
    headers (``serving.security_headers``): ``add_middleware`` would sit inside those."""
    build = app.build_middleware_stack
    app.build_middleware_stack = lambda: SecurityHeaders(build())  # type: ignore[method-assign]


def _model_watch(state: ServingState, app_metrics: Metrics, seconds: float) -> ModelWatch | None:
    """The watch that reloads when the serving alias moves, counted in the metrics; or None."""
    if seconds <= 0:
        return None

    def reload_counted(outcome, error) -> None:
        result = "refused" if error is not None else "switched"
        app_metrics.reloads.labels("watch", result).inc()

    return ModelWatch(state, seconds, reload_counted)


def _lifespan(
    state: ServingState,
    audit: AuditLog | None,
    watch: ModelWatch | None,
    load_in_background: bool,
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Open the serving state (``ServingState.open``) and the audit log, start the state and the
    watch; stop and close them at shutdown."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        refuse_unguarded_routes(app)
        state.open()
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
            if watch is not None:
                watch.stop()
            state.stop()
            engines = getattr(app.state, "whatif_engines", None)
            if engines is not None:
                engines.close()
            if audit is not None:
                audit.close()
            forget_worker()

    return lifespan


def _include_routers(app: FastAPI, routers: Sequence[APIRouter], metrics_public: bool) -> None:
    """Each router behind the one role its paths need (open routers without a key check)."""
    guarded: GuardedRoutes = []  # the routes behind a role, for the access gate
    app.state.guarded_routes = guarded
    for router in routers:
        role = router_role(router, metrics_public=metrics_public)
        if role is None:
            app.include_router(router)
        else:
            guarded += [(route, role) for route in router.routes]
            app.include_router(
                router,
                dependencies=[Depends(require_role(role))],
                responses=AUTH_ERRORS,
            )


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
        "instance_dir": settings.instance_dir,
        "instance_workers": settings.instance_workers,
        "whatif_process": settings.whatif_process,
        "body_limits": configured_limits(settings.body_limits),
    }
    return create_app(store, **{**options, **overrides})
