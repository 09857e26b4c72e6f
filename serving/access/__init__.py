"""Who may call what: API keys, the route-to-role rule, the per-request key check, and the
audit log every API request is recorded in.

- ``keys``: roles, the keys file and ``KeyRing``, which checks a key;
- ``rules``: which role each path needs (``ACCESS``);
- ``guard``: ``require_role``, the dependency that checks the key and the query of a request;
- ``deployment``: what a deployment outside development must have (keys, audit log, audit key);
- ``audit``: the hash-chained audit log and its verification;
- ``audit_trail``: the middleware that records each API request, and refuses them while the
  audit log fails.
"""

from serving.access.audit import AuditLog, AuditSummary, read_request_key, verify
from serving.access.audit_trail import AuditTrail
from serving.access.deployment import refuse_open_deployment
from serving.access.guard import require_role
from serving.access.keys import (
    ROLES,
    Caller,
    KeyRing,
    Role,
    add_key,
    read_key_file,
    revoke_key,
)
from serving.access.rules import ACCESS, path_role, refuse_unguarded_routes, router_role

__all__ = [
    "ACCESS",
    "ROLES",
    "AuditLog",
    "AuditSummary",
    "AuditTrail",
    "Caller",
    "KeyRing",
    "Role",
    "add_key",
    "path_role",
    "read_key_file",
    "read_request_key",
    "refuse_open_deployment",
    "refuse_unguarded_routes",
    "require_role",
    "revoke_key",
    "router_role",
    "verify",
]
