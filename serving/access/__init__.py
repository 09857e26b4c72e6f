"""Who may call what: API keys, the route-to-role rule, the per-request key check, and the
audit log every API request is recorded in.

- ``credentials``: what a key is: its form, its role and the scrypt hash stored for it;
- ``key_file``: the keys file, read and validated whole, written whole with its ownership kept
  (``add_key``, ``revoke_key``);
- ``keys``: ``KeyRing``, which checks a presented key at request time;
- ``rules``: which role each path needs (``ACCESS``);
- ``guard``: ``require_role``, the dependency that checks the key and the query of a request;
- ``deployment``: what a deployment outside development must have (keys, audit log, audit key);
- ``audit``: the audit log, chained and sealed with the audit key;
- ``audit_check``: verifying the chain with the key, and head checkpoints;
- ``audit_trail``: the middleware that records each API request before it is answered, and
  refuses it when the record cannot be written;
- ``attempts``: failed key checks counted per key id and per address;
- ``gate``: the key and role checked before any body is read.
"""

from serving.access.attempts import FailedAttempts
from serving.access.audit import AuditLog, read_request_key
from serving.access.audit_check import (
    AuditSummary,
    Checkpoint,
    export_checkpoint,
    read_checkpoint,
    verify,
)
from serving.access.audit_trail import AuditTrail
from serving.access.credentials import ROLES, Role
from serving.access.deployment import refuse_open_deployment
from serving.access.gate import AccessGate, route_role
from serving.access.guard import require_role
from serving.access.key_file import add_key, key_file_ownership, read_key_file, revoke_key
from serving.access.keys import Caller, KeyRing
from serving.access.rules import ACCESS, path_role, refuse_unguarded_routes, router_role

__all__ = [
    "ACCESS",
    "ROLES",
    "AccessGate",
    "Checkpoint",
    "FailedAttempts",
    "export_checkpoint",
    "read_checkpoint",
    "route_role",
    "AuditLog",
    "AuditSummary",
    "AuditTrail",
    "Caller",
    "KeyRing",
    "Role",
    "add_key",
    "key_file_ownership",
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
