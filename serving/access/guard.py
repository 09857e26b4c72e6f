"""The one dependency every API request passes: the caller's key, its role, and the query.

``require_role("payment")`` is applied to whole routers where the app includes them (see
``serving.access.rules``): 401 for a missing or invalid key, 403 for a role too low, then 422
for a query parameter the route does not take.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from features import (
    AccessDeniedError,
    PermissionDeniedError,
    RepeatedQueryError,
    UnknownQueryError,
)
from serving.access.credentials import ROLES, Role, allows
from serving.access.gate import gate_caller
from serving.access.keys import OPEN_CALLER, Caller, KeyRing
from serving.observability import note_caller

bearer = HTTPBearer(
    scheme_name="ApiKey",
    description="An API key from `ptb keys add`: `Authorization: Bearer ptb.<key id>.<secret>`",
    auto_error=False,
)


async def authenticate(
    request: Request, credentials: HTTPAuthorizationCredentials | None
) -> Caller:
    """The caller of a request: open in development without keys, else by its API key.

    With keys the access gate (``serving.access.gate``) has checked the key before the body
    was read and left the caller in the request's state; this then only reads it back.
    """
    keyring: KeyRing | None = request.app.state.keyring
    if keyring is None:
        return OPEN_CALLER
    checked = gate_caller(request)
    if checked is not None:
        return checked
    key = credentials.credentials if credentials is not None else None
    caller = keyring.cached(key)
    if caller is None:
        caller = await keyring.authenticate_off_loop(key)  # scrypt: on the key ring's threads
    return caller


@cache
def require_role(role: Role) -> Callable:
    """A dependency that lets a request through only with a key of ``role`` or a higher one,
    and only with query parameters the route takes.

    ``app.include_router(router, dependencies=[Depends(require_role("payment"))])``; 401 for a
    missing or invalid key, 403 for a key whose role is too low, then 422 for an unknown query
    parameter (``refuse_unknown_query``). One dependency for both, as it runs on every request.
    """
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")

    async def check_role(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> Caller:
        try:
            caller = await authenticate(request, credentials)
            if not allows(caller.role, role):
                note_caller(caller.key_id, caller.role)
                raise PermissionDeniedError(caller.key_id or "open", caller.role, role)
        except AccessDeniedError as exc:
            metrics = getattr(request.app.state, "metrics", None)
            if metrics is not None:
                metrics.auth_refusals.labels(exc.reason).inc()
            raise
        note_caller(caller.key_id, caller.role)
        refuse_unknown_query(request)
        return caller

    check_role.__name__ = f"require_{role}"
    check_role.required_role = role  # type: ignore[attr-defined]  # read by the access gate
    return check_role


# -- strict query strings -------------------------------------------------------------------------

_QUERY_NAMES: dict[int, frozenset[str]] = {}


def _query_names(dependant) -> frozenset[str]:
    names = {param.alias for param in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return frozenset(names)


def refuse_unknown_query(request: Request) -> None:
    """Refuse a query parameter the route does not take, as unknown body fields are refused.

    ``?modle_version=2`` must not quietly answer with the default model, and
    ``?model_version=2&model_version=3`` must not quietly answer with one of them.
    """
    if not request.query_params:
        return
    names = [name for name, _ in request.query_params.multi_items()]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise RepeatedQueryError(repeated)
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    known = _QUERY_NAMES.get(id(route))
    if known is None:
        known = _QUERY_NAMES[id(route)] = _query_names(dependant)
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        raise UnknownQueryError(unknown, sorted(known))
