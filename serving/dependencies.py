"""What handlers depend on: the serving state, the model (default or pinned) and the snapshot.

``StateDep``, ``ModelDep``, ``BundleDep`` and ``SnapshotDep`` are typed aliases for handler
signatures. A pinned version that is not in memory yet is loaded in a worker thread, once.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from features import ModelBundle, ServiceNotReadyError, SnapshotMissingError
from serving.loaded_model import LoadedModel
from serving.observability import note_model
from serving.schemas.common import VERSION_PATTERN
from serving.snapshot import Snapshot
from serving.state import ServingState


async def resolve_model(state: ServingState, ref: str | int | None) -> LoadedModel:
    """The model a request asks for: cached without blocking, else loaded in a thread."""
    model = state.cached_model(ref)
    if model is None:  # a pinned version not in memory (the default one always is)
        model = await run_in_threadpool(state.store.get, ref if ref is not None else "")
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
