"""The PTB API: grants per person and per GP list, what-if, and the policy page.

Where things live:

- ``app``: the app factory, a composition root (``create_app``, ``create_app_from_settings``);
- ``worker``: the uvicorn factory of a worker process (logs set up first, then the app);
- ``routes``: the HTTP endpoints, one module per resource (grants, model, whatif, admin, ...);
- ``schemas``: the request and response models, one module per resource, and the error body;
- ``error_responses``: the one mapping of product errors to HTTP answers;
- ``request_bodies``: every body read within its route's limit and parsed as strict JSON;
- ``json_body``: validating that JSON body into a model, as the OpenAPI declares it;
- ``security_headers``: CSP, nosniff, no framing, no referrer on every answer;
- ``access``: API keys, the route-to-role rule, the key check, the audit log and trail;
- ``whatif``: scenarios priced against the current scheme (no HTTP inside);
- ``state``: the serving state's life cycle (start-up, retries, switch);
- ``dependencies``: what handlers depend on (the state, the model, the snapshot);
- ``model_store``: model versions from the MLflow registry, by alias or version, offline too;
- ``bundle_cache``: the store's verified bundles on disk and the index of what it resolved last;
- ``reload``: checking and switching to a new model version, and the alias watch;
- ``snapshot``: the registry snapshot of persons and lists, and its grants per version;
- ``snapshot_kept``: what is worked out from a snapshot once and kept (payments, what-ifs);
- ``payments``: which model pays on a date, and the whole basistilskudd of an answer;
- ``observability``: metrics, request facts and the structured access log.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from serving.app import create_app, create_app_from_settings

__all__ = ["create_app", "create_app_from_settings"]


def __getattr__(name: str) -> Any:
    """The app factories, imported on first use: ``ptb keys`` reads a keys file with
    ``serving.access`` without loading the web app and the MLflow client."""
    if name in __all__:
        from serving import app

        return getattr(app, name)
    raise AttributeError(f"module 'serving' has no attribute {name!r}")
