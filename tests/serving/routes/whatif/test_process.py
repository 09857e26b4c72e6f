"""What-if priced in a child process (``PTB_WHATIF_PROCESS``): the same answers as in the worker,
the same refusals, and the child below the grant workers in priority."""

from __future__ import annotations

import os
import pickle
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from features.errors import UnknownCodeError
from serving.app import create_app
from serving.model_store import ModelStore
from serving.snapshot import Snapshot
from serving.whatif import scenario_error
from serving.whatif.process import NICE
from tests.serving.routes.whatif.scenarios import SCENARIOS

PAGE = {"kommuner": 15, "top": 8, "lists": "true", "limit": 10_000}


def api_of(store: ModelStore, snapshot: Snapshot, whatif_process: bool) -> TestClient:
    app = create_app(
        store,
        snapshot=snapshot,
        load_in_background=False,
        freeze_gc=False,
        whatif_process=whatif_process,
    )
    return TestClient(app)


@pytest.fixture(scope="module")
def in_worker(store, snapshot) -> Iterator[TestClient]:
    with api_of(store, snapshot, whatif_process=False) as client:
        yield client


@pytest.fixture(scope="module")
def in_process(store, snapshot) -> Iterator[TestClient]:
    with api_of(store, snapshot, whatif_process=True) as client:
        yield client


def children() -> list[int]:
    """This process's live child processes (whichever thread started them)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == os.getpid() and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


@pytest.mark.parametrize("name", ["dampened", "education", "budget", "model0", "phase_in"])
def test_a_scenario_priced_in_the_child_answers_as_in_the_worker(in_worker, in_process, name):
    body = SCENARIOS[name]
    expected = in_worker.post("/v1/whatif", json=body, params=PAGE)
    found = in_process.post("/v1/whatif", json=body, params=PAGE)
    assert expected.status_code == found.status_code == 200, found.text
    assert found.json() == expected.json()


def test_a_refusal_from_the_child_is_the_same_refusal(in_worker, in_process):
    body = {"dampening": 0.1, "refugee_rate_nok": 50_000, "budget_nok": 1_000}
    expected = in_worker.post("/v1/whatif", json=body)
    found = in_process.post("/v1/whatif", json=body)
    assert expected.status_code == 422, expected.text
    assert (found.status_code, found.json()) == (expected.status_code, expected.json())


def test_the_child_runs_niced_below_the_worker(in_process):
    assert in_process.post("/v1/whatif", json={}).status_code == 200
    niced = [os.getpriority(os.PRIO_PROCESS, pid) for pid in children()]
    # Niceness stops at 19: a suite run under `nice` sees the child there.
    assert min(os.getpriority(os.PRIO_PROCESS, 0) + NICE, 19) in niced, niced


def test_the_child_ends_with_the_service(store, snapshot):
    before = set(children())
    with api_of(store, snapshot, whatif_process=True) as client:
        assert client.post("/v1/whatif", json={"dampening": 0.5}).status_code == 200
        started = set(children()) - before
    assert started
    deadline = time.monotonic() + 30
    while set(children()) & started and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not set(children()) & started


def test_product_errors_cross_between_processes_whole():
    for error in (
        UnknownCodeError("practice_kommune", ["9999"], "kommune"),
        scenario_error([("budget_nok", "the fixed supplements exceed the budget")]),
    ):
        crossed = pickle.loads(pickle.dumps(error))
        assert type(crossed) is type(error) and str(crossed) == str(error)
        assert crossed.__dict__ == error.__dict__


def test_a_bundle_the_child_no_longer_keeps_is_sent_again(in_process):
    assert in_process.post("/v1/whatif", json={"dampening": 0.5}).status_code == 200
    process = in_process.app.state.whatif_engines.process
    # The child forgets every bundle and engine, as its LRU does after enough other versions.
    forget = "import serving.whatif.process as p; p._bundles.clear(); p._engines.clear()"
    process._pool.submit(exec, forget).result()
    again = in_process.post(
        "/v1/whatif", json={"dampening": 0.4}, headers={"Cache-Control": "no-cache"}
    )
    assert again.status_code == 200, again.text


def test_a_what_if_process_that_died_is_started_again(in_process):
    assert in_process.post("/v1/whatif", json={"dampening": 0.5}).status_code == 200
    process = in_process.app.state.whatif_engines.process
    # As the kernel's out-of-memory killer would: the child is gone without a word.
    child = process._pool.submit(os.getpid).result()
    os.kill(child, signal.SIGKILL)
    again = in_process.post(
        "/v1/whatif", json={"dampening": 0.45}, headers={"Cache-Control": "no-cache"}
    )
    assert again.status_code == 200, again.text
    assert process._pool.submit(os.getpid).result() != child
