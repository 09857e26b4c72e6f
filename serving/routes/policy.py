"""The policy page: ``GET /policy``, a form with the scenario's levers over ``POST /v1/whatif``.

Server-rendered (``serving/templates/policy.html``) with the baseline's values filled in; a small
script (``serving/static/policy.js``) sends the levers the user moved as a scenario and draws the
answer as inline SVG. No build step and nothing fetched from outside the service.
"""

from __future__ import annotations

import hashlib
import logging
from functools import cache
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool
from starlette.routing import NoMatchFound

from serving.dependencies import StateDep
from serving.loaded_model import LoadedModel
from serving.model_store import ModelStore
from serving.state import ServingState

logger = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parents[1]
STATIC = HERE / "static"
templates = Jinja2Templates(directory=HERE / "templates")

router = APIRouter(tags=["policy"])
router.mount("/static", StaticFiles(directory=STATIC), name="static")


@cache
def asset_version() -> str:
    """A digest of the static files, appended to their URLs so a new release is fetched anew."""
    digest = hashlib.sha256()
    for path in sorted(STATIC.iterdir()):
        if path.is_file():
            digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:12]


def estimated_effects(model: LoadedModel) -> dict[str, float]:
    """What each lever's estimated effect pays per person per year in the baseline, NOK.

    An indicator level with relative weight ``w`` adds ``(1 - d) * w * R`` NOK a year to a
    person's grant under dampening ``d`` and rate ``R``.
    """
    bundle = model.bundle
    table = bundle.weight_table
    scale = (1.0 - bundle.scheme.dampening) * bundle.rate_nok
    found: dict[str, float] = {}
    for factor, level, key in (
        ("centrality", 4, "centrality_5"),
        ("centrality", 5, "centrality_6"),
        ("education", 1, "education"),
        ("refugee", 1, "refugee"),
    ):
        rows = table[(table["factor"] == factor) & (table["level_code"] == level)]
        if len(rows):
            found[key] = round(float(rows["relative_weight"].iloc[0]) * scale, 2)
    return found


def registered_models(store: ModelStore) -> list[dict[str, str]]:
    """Registered versions and the model each was trained as, newest first; empty if offline."""
    return [{"version": version, "name": name} for version, name in store.registered_models()]


def _path(request: Request, name: str, fallback: str) -> str:
    """A route's path under the configured root path (``--root-path``); never the ``Host``."""
    try:
        path = request.app.url_path_for(name)
    except NoMatchFound:
        path = fallback
    return request.scope.get("root_path", "") + path


def static_url(request: Request) -> str:
    """Where the page's own files are: the configured root path and ``/static``. Starlette's
    ``url_for`` would build an absolute URL from the request's ``Host`` header, which a caller
    chooses."""
    return request.scope.get("root_path", "") + "/static"


def page_config(
    request: Request, state: ServingState, model: LoadedModel, versions: list[dict]
) -> dict:
    """What the page's script needs: the baseline, the snapshot and where to ask."""
    bundle = model.bundle
    snapshot = state.snapshot
    return {
        # The page asks for a key only when keys are on and none came with the page itself: a
        # deployment whose proxy signs analysts in adds the key to every request, this one too.
        "keys_required": request.app.state.keyring is not None
        and "authorization" not in request.headers,
        "whatif_url": _path(request, "whatif", "/v1/whatif"),
        "lists_csv_url": _path(request, "whatif_lists_csv", "/v1/whatif/lists.csv"),
        "reform_url": _path(request, "reform_waterfall", "/v1/whatif/reform"),
        "reform_steps": bool(bundle.steps),
        "baseline": {
            "model_version": model.version,
            "model_name": model.name,
            "model_alias": model.alias,
            "dampening": bundle.scheme.dampening,
            "refugee_rate_nok": bundle.scheme.refugee_rate_nok,
            "rate_nok": bundle.rate_nok,
            "education_threshold": bundle.indicators.education_threshold,
            "education_area": bundle.indicators.education_area,
            "refugee_factor": bundle.indicators.refugee,
            "estimated_nok": estimated_effects(model),
        },
        "snapshot": None
        if snapshot is None
        else {"persons": snapshot.n_persons, "lists": snapshot.n_lists},
        "models": versions,
    }


@router.get("/policy", response_class=HTMLResponse, summary="The what-if page for policy teams")
async def policy_page(request: Request, state: StateDep) -> HTMLResponse:
    """Levers of a scenario and its redistribution: histogram, centrality classes, kommuner."""
    model = state.model
    if model is None:
        reason = state.error if state.status == "failed" else "the serving model is still loading"
        return templates.TemplateResponse(
            request,
            "policy_unavailable.html",
            {
                "reason": reason,
                "retry": state.status != "failed",
                "static_url": static_url(request),
            },
            status_code=503,
        )
    versions = await run_in_threadpool(registered_models, state.store)
    config = page_config(request, state, model, versions)
    return templates.TemplateResponse(
        request,
        "policy.html",
        {
            "config": config,
            "model": model,
            "snapshot": state.snapshot,
            "asset_version": asset_version(),
            "static_url": static_url(request),
        },
    )
