"""The OpenAPI document as code generators read it: every request body and streamed row a named
component, written once.

A route that reads its body itself (``serving.json_body``) or streams rows declares them with
``component_ref(Model)``; ``name_components(app)`` puts each model so referred to, and the
models it uses, into ``components.schemas`` when the document is built. A generated client then
gets one ``PersonIn`` or ``Scenario`` class, not one per route named after the route.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

SCHEMA_REF = "#/components/schemas/{model}"
_MODELS: dict[str, type[BaseModel]] = {}


def component_ref(model: type[BaseModel]) -> dict[str, str]:
    """A ``$ref`` to ``model`` as a named component of the document."""
    known = _MODELS.setdefault(model.__name__, model)
    if known is not model:
        raise ValueError(f"two models named {model.__name__} in the OpenAPI document")
    return {"$ref": SCHEMA_REF.format(model=model.__name__)}


def add_components(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` with each model a path refers to by ``component_ref`` in its components."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    paths = json.dumps(document.get("paths", {}))
    for name, model in sorted(_MODELS.items()):
        if name in schemas or json.dumps(SCHEMA_REF.format(model=name)) not in paths:
            continue
        schema = model.model_json_schema(ref_template=SCHEMA_REF)
        for used, definition in schema.pop("$defs", {}).items():
            schemas.setdefault(used, definition)
        schemas[name] = schema
    document["components"]["schemas"] = dict(sorted(schemas.items()))
    return document


def name_components(app: FastAPI) -> None:
    """Build ``app``'s OpenAPI document with ``add_components`` (once, as FastAPI caches it)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = add_components(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
