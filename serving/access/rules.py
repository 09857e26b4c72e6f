"""Which role each path needs: the one access rule, written by path.

``/v1/grants`` and ``/v1/model`` need role ``payment``, ``/v1/whatif`` ``policy``, ``/v1/admin``
``admin``; probes, the policy page and its static files are open, ``/metrics`` too unless
``metrics_public`` is off. A path under ``/v1/`` that ``ACCESS`` does not name needs ``admin``:
a new router is closed until someone decides otherwise. The app factory applies the rule where
it includes a router (``require_role`` from ``serving.access.guard``), so route modules carry
no access code.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from features import ConfigurationError
from serving.access.credentials import Role
from serving.schemas.errors import ErrorBody, Responses

# Path prefix -> the role it needs (None: open). The first match wins; see the module docstring.
ACCESS: tuple[tuple[str, Role | None], ...] = (
    ("/v1/admin", "admin"),
    ("/v1/whatif", "policy"),
    ("/v1/grants", "payment"),
    ("/v1/model", "payment"),
    ("/v1/", "admin"),
    ("/healthz", None),
    ("/readyz", None),
    ("/policy", None),
    ("/static", None),
)
METRICS_PATH = "/metrics"
AUTH_ERRORS: Responses = {
    401: {"model": ErrorBody, "description": "no API key, or not a valid one"},
    403: {"model": ErrorBody, "description": "the API key's role may not use this endpoint"},
    413: {"model": ErrorBody, "description": "the body is over the route's limit"},
    429: {"model": ErrorBody, "description": "too many failed key checks; see Retry-After"},
}


def path_role(path: str, *, metrics_public: bool = True) -> Role | None:
    """The role a path needs: ``ACCESS``'s first matching prefix; unlisted paths need admin."""
    if path == METRICS_PATH:
        return None if metrics_public else "admin"
    for prefix, role in ACCESS:
        within = path.startswith(prefix) if prefix.endswith("/") else path.startswith(prefix + "/")
        if within or path == prefix:
            return role
    return "admin"


def router_role(router: APIRouter, *, metrics_public: bool = True) -> Role | None:
    """The one role every path of a router needs; a router mixing levels is refused."""
    roles = {
        path_role(path, metrics_public=metrics_public)
        for path in (getattr(route, "path", None) for route in router.routes)
        if path is not None
    }
    if len(roles) > 1:
        paths = sorted(getattr(route, "path", "?") for route in router.routes)
        raise ConfigurationError(
            "routers", f"a router mixes access levels {sorted(map(str, roles))}: {paths}"
        )
    return roles.pop() if roles else "admin"


def refuse_unguarded_routes(app: FastAPI) -> None:
    """Refuse to start if an API operation has no key requirement (a router added unguarded)."""
    unguarded = [
        f"{method.upper()} {path}"
        for path, operations in app.openapi().get("paths", {}).items()
        if path.startswith("/v1/")
        for method, operation in operations.items()
        if isinstance(operation, dict) and not operation.get("security")
    ]
    if unguarded:
        raise ConfigurationError(
            "routers",
            "API routes without an access rule (pass their router to create_app(routers=...)): "
            + ", ".join(unguarded),
        )
