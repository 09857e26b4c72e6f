"""What handlers depend on: the serving state, the model (default or pinned), the snapshot.

``StateDep``, ``ModelDep``, ``BundleDep`` and ``SnapshotDep`` are typed aliases for handler
signatures. A pinned version that is not in memory yet is loaded in a worker thread, once.
"""

from __future__ import annotations

import gc
import logging
import threading
from pathlib import Path
from typing import Annotated, Literal

from fastapi import Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from features.bundle import ModelBundle
from features.errors import ServiceNotReadyError, SnapshotMissingError
from serving.model_store import LoadedModel, ModelStore
from serving.schemas import VERSION_PATTERN
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
    ):
        self.store = store
        self.freeze_gc = freeze_gc
        self.default_ref = str(default_model)
        self.snapshot_source = snapshot
        self.snapshot: Snapshot | None = snapshot if isinstance(snapshot, Snapshot) else None
        self.model: LoadedModel | None = None
        self.status: Literal["loading", "ready", "failed"] = "loading"
        self.error: str | None = None
        self.loaded = threading.Event()

    def start(self) -> None:
        """Load the snapshot, the default model and its snapshot grants; blocking."""
        try:
            if self.snapshot is None and self.snapshot_source is not None:
                logger.info("loading registry snapshot %s", self.snapshot_source)
                self.snapshot = Snapshot.load(self.snapshot_source)
            model = self.store.get(self.default_ref)
            if self.snapshot is not None:
                self.snapshot.grants(model.version, model.scorer)
            self.model = model
            if self.freeze_gc:
                # What is loaded now lives as long as the process: keep it out of the cyclic
                # garbage collector, whose full passes over it stall requests by ~100 ms.
                gc.collect()
                gc.freeze()
            self.status = "ready"
            logger.info("serving model %s version %s", model.name, model.version)
        except Exception as exc:
            self.status, self.error = "failed", f"{type(exc).__name__}: {exc}"
            logger.exception("start-up failed")
        finally:
            self.loaded.set()

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
