"""What handlers depend on: the serving state, the model (default or pinned), the snapshot, and
the caller's role.

``StateDep``, ``ModelDep``, ``BundleDep`` and ``SnapshotDep`` are typed aliases for handler
signatures. A pinned version that is not in memory yet is loaded in a worker thread, once.
``require_role("payment")`` is applied to whole routers where the app includes them; it also
refuses query parameters a route does not take.

The serving model changes only by ``ServingState.switch`` (a reload): one assignment, so a
request sees the old model or the new one, never a mix.
"""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Annotated, Literal

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from features.bundle import ModelBundle
from features.errors import (
    AccessDeniedError,
    PermissionDeniedError,
    RegistryUnavailableError,
    ServiceNotReadyError,
    SnapshotMissingError,
    UnknownQueryError,
)
from features.releases import Release
from serving.model_store import LoadedModel, ModelStore
from serving.observability import note_caller, note_model
from serving.pricing import Pricing
from serving.schemas import VERSION_PATTERN
from serving.security import OPEN_CALLER, ROLES, Caller, KeyRing, Role, allows
from serving.snapshot import Snapshot

logger = logging.getLogger(__name__)


class ServingState:
    """The store, the default model resolved at start-up, and the optional snapshot."""

    def __init__(
        self,
        store: ModelStore,
        *,
        snapshot: Snapshot | str | Path | None = None,
        default_model: str = "champion",
        freeze_gc: bool = True,
        startup_retry_seconds: float = 0.0,
        reference: Release | str | Path | None = None,
    ):
        self.store = store
        # The release to price with when there is no snapshot (a snapshot is its own release).
        self.reference_source = reference
        self.pricing: Pricing | None = None
        self.freeze_gc = freeze_gc
        self.configured_ref = str(default_model)  # what the deployment asked for
        self.default_ref = str(default_model)  # what serves now (an admin reload may pin one)
        self.snapshot_source = snapshot
        self.snapshot: Snapshot | None = snapshot if isinstance(snapshot, Snapshot) else None
        self.model: LoadedModel | None = None
        self.status: Literal["loading", "ready", "failed"] = "loading"
        self.error: str | None = None
        self.loaded = threading.Event()
        self.stopping = threading.Event()
        self.startup_retry_seconds = startup_retry_seconds
        self.reload_lock = threading.Lock()
        # Called with a model about to serve, before the switch (e.g. to build its what-if engine).
        self.warmers: list[Callable[[LoadedModel], None]] = []

    def start(self) -> None:
        """Load the snapshot, the default model and its snapshot grants; blocking.

        If the registry is unreachable and no cached copy exists, retry every
        ``startup_retry_seconds`` (when positive) in a background thread until it works;
        ``/readyz`` reports the reason meanwhile.
        """
        self._start_once()
        if self.status == "failed" and self._retryable and self.startup_retry_seconds > 0:
            threading.Thread(target=self._retry_start, name="ptb-model-retry", daemon=True).start()

    def _start_once(self) -> None:
        self._retryable = False
        try:
            if self.snapshot is None and self.snapshot_source is not None:
                logger.info("loading registry snapshot %s", self.snapshot_source)
                self.snapshot = Snapshot.load(self.snapshot_source)
            if self.pricing is None:
                self.pricing = self._pricing()
            model = self.store.get(self.default_ref)
            if self.snapshot is not None:
                self.snapshot.grants(model.version, self.pricing.scorer(model))
            self.model = model
            if self.freeze_gc:
                # What is loaded now lives as long as the process: keep it out of the cyclic
                # garbage collector, whose full passes over it stall requests by ~100 ms.
                gc.collect()
                gc.freeze()
            self.status, self.error = "ready", None
            logger.info("serving model %s version %s", model.name, model.version)
        except Exception as exc:
            self._retryable = isinstance(exc, RegistryUnavailableError)
            retry = (
                f"; retrying every {self.startup_retry_seconds:g} s"
                if self._retryable and self.startup_retry_seconds > 0
                else ""
            )
            self.status, self.error = "failed", f"{type(exc).__name__}: {exc}{retry}"
            logger.exception("start-up failed")
        finally:
            self.loaded.set()

    def _pricing(self) -> Pricing:
        """The snapshot's own release, else the configured (or shipped) named release."""
        if self.snapshot is not None:
            return Pricing(self.snapshot.release, self.snapshot)
        source = self.reference_source
        release = source if isinstance(source, Release) else Release.named(source)
        logger.info("pricing with reference release %s (%s)", release.name, release.period)
        return Pricing(release)

    def priced(self) -> Pricing:
        """The pricing in use; only once the service is ready."""
        if self.pricing is None:
            raise ServiceNotReadyError(self._not_ready_message())
        return self.pricing

    def _retry_start(self) -> None:
        while self.status == "failed" and not self.stopping.wait(self.startup_retry_seconds):
            self._start_once()

    def switch(self, model: LoadedModel, *, default_ref: str) -> LoadedModel | None:
        """Serve ``model`` from the next request on; returns the model it replaces."""
        previous, self.model = self.model, model
        self.default_ref = default_ref
        self.status, self.error = "ready", None
        if self.freeze_gc:
            gc.collect()
            gc.freeze()
        logger.warning(
            "serving model %s version %s (was %s)",
            model.name,
            model.version,
            None if previous is None else previous.version,
        )
        return previous

    def cached_model(self, ref: str | int | None) -> LoadedModel | None:
        """The default model, or a pinned one already in memory; never does I/O."""
        if self.model is None:
            raise ServiceNotReadyError(self._not_ready_message())
        if ref is None:
            return self.model
        return self.store.cached(ref)

    def _not_ready_message(self) -> str:
        if self.status == "failed":
            return f"the serving model failed to load: {self.error}"
        return "the serving model is still loading"


async def resolve_model(state: ServingState, ref: str | int | None) -> LoadedModel:
    """The model a request asks for: cached without blocking, else loaded in a thread."""
    model = state.cached_model(ref)
    if model is None:
        model = await run_in_threadpool(state.store.get, ref)
    note_model(model.version)
    return model


async def get_state(request: Request) -> ServingState:
    return request.app.state.serving


StateDep = Annotated[ServingState, Depends(get_state)]


async def get_model(
    state: StateDep,
    model_version: Annotated[
        str | None,
        Query(
            pattern=VERSION_PATTERN,
            description="pin a model version (number) or alias; default: the serving model",
        ),
    ] = None,
) -> LoadedModel:
    return await resolve_model(state, model_version)


ModelDep = Annotated[LoadedModel, Depends(get_model)]


async def get_bundle(model: ModelDep) -> ModelBundle:
    return model.bundle


BundleDep = Annotated[ModelBundle, Depends(get_bundle)]


async def get_snapshot(state: StateDep) -> Snapshot:
    if state.snapshot is None:
        if state.status == "loading" and state.snapshot_source is not None:
            raise ServiceNotReadyError("the registry snapshot is still loading")
        raise SnapshotMissingError(
            "this service runs without a registry snapshot; start it with a data set (--data)"
        )
    return state.snapshot


SnapshotDep = Annotated[Snapshot, Depends(get_snapshot)]


# -- access ---------------------------------------------------------------------------------------

bearer = HTTPBearer(
    scheme_name="ApiKey",
    description="An API key from `ptb keys add`: `Authorization: Bearer ptb.<key id>.<secret>`",
    auto_error=False,
)


async def authenticate(
    request: Request, credentials: HTTPAuthorizationCredentials | None
) -> Caller:
    """The caller of a request: open in development without keys, else by its API key."""
    keyring: KeyRing | None = request.app.state.keyring
    if keyring is None:
        return OPEN_CALLER
    key = credentials.credentials if credentials is not None else None
    caller = keyring.cached(key)
    if caller is None:
        caller = await run_in_threadpool(keyring.authenticate, key)  # scrypt: not on the loop
    return caller


@cache
def require_role(role: Role) -> Callable:
    """A dependency that lets a request through only with a key of ``role`` or a higher one,
    and only with query parameters the route takes.

    ``app.include_router(router, dependencies=[Depends(require_role("payment"))])``; 401 for a
    missing or invalid key, 403 for a key whose role is too low, then 422 for an unknown query
    parameter (``refuse_unknown_query``). One dependency for both, as it runs on every request.
    """
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")

    async def check_role(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> Caller:
        try:
            caller = await authenticate(request, credentials)
            if not allows(caller.role, role):
                note_caller(caller.key_id, caller.role)
                raise PermissionDeniedError(caller.key_id or "open", caller.role, role)
        except AccessDeniedError as exc:
            metrics = getattr(request.app.state, "metrics", None)
            if metrics is not None:
                metrics.auth_refusals.labels(exc.reason).inc()
            raise
        note_caller(caller.key_id, caller.role)
        refuse_unknown_query(request)
        return caller

    check_role.__name__ = f"require_{role}"
    return check_role


# -- strict query strings -------------------------------------------------------------------------

_QUERY_NAMES: dict[int, frozenset[str]] = {}


def _query_names(dependant) -> frozenset[str]:
    names = {param.alias for param in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return frozenset(names)


def refuse_unknown_query(request: Request) -> None:
    """Refuse a query parameter the route does not take, as unknown body fields are refused.

    ``?modle_version=2`` must not quietly answer with the default model.
    """
    if not request.query_params:
        return
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    known = _QUERY_NAMES.get(id(route))
    if known is None:
        known = _QUERY_NAMES[id(route)] = _query_names(dependant)
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        raise UnknownQueryError(unknown, sorted(known))
