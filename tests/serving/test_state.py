"""The serving state's life cycle: loading, ready or failed with the reason, and the switch."""

from __future__ import annotations

import threading

import pytest

from features import ModelNotFoundError, ServiceNotReadyError
from serving.loaded_model import LoadedModel
from serving.model_store import ModelStore
from serving.snapshot import Snapshot
from serving.state import ServingState


def test_before_start_up_requests_are_told_the_model_is_loading(store: ModelStore):
    state = ServingState(store, freeze_gc=False)
    assert state.status == "loading" and not state.loaded.is_set()
    with pytest.raises(ServiceNotReadyError, match="still loading"):
        state.cached_model(None)


def test_start_up_loads_the_default_model_and_its_snapshot_grants(
    store: ModelStore, snapshot: Snapshot
):
    state = ServingState(store, snapshot=snapshot, freeze_gc=False)
    state.start()
    assert state.status == "ready" and state.error is None and state.loaded.is_set()
    assert state.model is not None and state.model.alias == "champion"
    assert state.cached_model(None) is state.model
    assert snapshot.grants(state.model.version, state.model.scorer) is not None


def test_a_failed_start_up_says_why_and_requests_are_refused_with_it(store: ModelStore):
    state = ServingState(store, default_model="no_such_alias", freeze_gc=False)
    state.start()
    assert state.status == "failed" and state.loaded.is_set()
    assert state.error is not None and ModelNotFoundError.__name__ in state.error
    with pytest.raises(ServiceNotReadyError, match="failed to load"):
        state.cached_model(None)


def test_warmers_build_for_the_start_up_model_in_the_background(store: ModelStore):
    state = ServingState(store, freeze_gc=False)
    warmed: list[str] = []
    done = threading.Event()

    def warm(model: LoadedModel) -> None:
        warmed.append(model.version)
        done.set()

    state.warmers.append(warm)
    state.start()
    assert done.wait(30)
    assert state.model is not None and warmed == [state.model.version]


def test_a_failing_warmer_leaves_the_service_ready(store: ModelStore):
    state = ServingState(store, freeze_gc=False)
    state.warmers.append(lambda model: 1 / 0)  # type: ignore[func-returns-value]
    state.start()
    assert state.status == "ready"


def test_the_switch_serves_the_new_model_and_returns_the_old(store: ModelStore):
    state = ServingState(store, freeze_gc=False)
    state.start()
    first = state.model
    challenger = store.get("challenger")
    assert state.switch(challenger, default_ref="challenger") is first
    assert state.cached_model(None) is challenger
    assert state.default_ref == "challenger" and state.configured_ref == "champion"
