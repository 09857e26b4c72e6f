"""The scenarios the what-if route tests ask, and a helper that asks one."""

from __future__ import annotations

from fastapi.testclient import TestClient


def whatif_ok(api: TestClient, body: dict, **params) -> dict:
    response = api.post("/v1/whatif", json=body, params=params)
    assert response.status_code == 200, response.text
    return response.json()


SCENARIOS = {
    "dampened": {"dampening": 0.5},
    # A small snapshot has lists in the central classes only (1 to 3).
    "centrality": {"centrality_supplement_nok": {"2": 300, "3": 600}},
    "centrality_doubled": {"centrality_scale": 2.0},
    "education": {"education_threshold": 0.22, "education_effect_nok": 150},
    "refugee": {"refugee_rate_nok": 3000},
    "budget": {"dampening": 0.25, "budget_nok": 15_000_000},
    "rules": {"floor_persons": 900, "break_point_persons": 1100, "break_point_rate_share": 0.6},
    "model0": {"model_version": "incumbent"},
    "phase_in": {"phase_in": {"from_version": "incumbent", "share": 0.5}},
}
