"""What-if leaves the served scheme as it is, and keeps its engines and results per snapshot and
baseline version."""

from __future__ import annotations

from fastapi.testclient import TestClient

from serving.routes import whatif
from serving.snapshot import Snapshot
from serving.whatif import WhatIfEngine
from tests.serving.conftest import person_body
from tests.serving.routes.whatif.scenarios import SCENARIOS, whatif_ok

# -- the served scheme stays as it is -------------------------------------------------------------


def served_answers(api: TestClient, snapshot: Snapshot) -> list:
    body = person_body(snapshot.dataset, 17)
    return [
        api.post("/v1/grants/person", json=body).json(),
        api.get("/v1/grants/lists", params={"format": "csv"}).text,
        api.get("/v1/model").json(),
    ]


def test_whatif_never_changes_the_served_grants(api, snapshot):
    before = served_answers(api, snapshot)
    for name in sorted(SCENARIOS):
        whatif_ok(api, SCENARIOS[name])
    after = served_answers(api, snapshot)
    assert after == before
    assert before[0]["model_version"] == "1"


# -- engines are kept per snapshot and baseline version -------------------------------------------


def test_engine_built_once_per_snapshot_and_baseline_version(api, snapshot, store):
    whatif_ok(api, {"dampening": 0.5})
    engines = whatif.engines_of(api.app)
    champion = store.get("champion")
    first = engines.cached(snapshot, champion)
    assert first is not None
    whatif_ok(api, {"dampening": 0.4})
    assert engines.get(snapshot, champion) is first
    answer = whatif_ok(api, {}, baseline="incumbent")
    assert answer["baseline"]["model_name"] == "model0_2023"
    assert answer["change_total_nok"] == 0
    assert engines.cached(snapshot, store.get("incumbent")) is not first


def test_the_same_scenario_is_answered_from_its_kept_result(api, snapshot, store, monkeypatch):
    """Asking again, or for another page of lists, runs no new national pricing."""
    runs = []
    real_run = WhatIfEngine.run
    monkeypatch.setattr(
        WhatIfEngine, "run", lambda self, *a, **k: runs.append(1) or real_run(self, *a, **k)
    )
    body = {"dampening": 0.37, "title": "kept"}
    first = whatif_ok(api, body, lists=True, offset=0, limit=3)
    again = whatif_ok(api, body, lists=True, offset=0, limit=3)
    page = whatif_ok(api, body, lists=True, offset=3, limit=3)
    assert len(runs) == 1
    assert again == first
    assert page["list_page"]["rows"][0]["list_id"] != first["list_page"]["rows"][0]["list_id"]
    # Another scenario, another baseline or a forced fresh run each price anew, alike.
    whatif_ok(api, {**body, "dampening": 0.38})
    whatif_ok(api, body, baseline="incumbent")
    fresh = api.post(
        "/v1/whatif",
        json=body,
        params={"lists": True, "offset": 0, "limit": 3},
        headers={"Cache-Control": "no-cache"},
    )
    assert len(runs) == 4
    assert fresh.json() == first
