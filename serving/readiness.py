"""What ``/readyz`` checks beyond the model: the files a request needs, as this worker sees them.

A service that cannot re-read its keys file would keep accepting a revoked key; one that cannot
append to its audit log refuses every ``/v1/`` request; one whose model cache is not writable
cannot restart while the registry is down. Each makes the worker unready, names the cause, and
shows in ``ptb_readiness_problem{check=...}``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

CHECKS = ("keys_file", "audit_log", "model_cache")


def writable(path: Path, *, directory: bool) -> str | None:
    """Why this process could not write ``path`` (or create it), or None if it could."""
    if path.exists():
        mode = os.W_OK | (os.X_OK if directory else 0)
        return None if os.access(path, mode) else f"{path} is not writable by this account"
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if os.access(parent, os.W_OK | os.X_OK):
        return None
    return f"{path} does not exist and {parent} is not writable by this account"


def keys_file_problem(keyring: Any) -> str | None:
    if keyring is None or keyring.path is None:
        return None
    keyring.refresh()
    error = keyring.reload_error
    return None if error is None else f"keys file not reloaded, old keys in force: {error}"


def audit_log_problem(audit: Any) -> str | None:
    if audit is None:
        return None
    error = getattr(audit, "last_error", None)
    if error:
        return f"audit records cannot be written ({error}); /v1/ requests are refused"
    return writable(Path(audit.path), directory=False)


def model_cache_problem(store: Any) -> str | None:
    folder = getattr(store, "cache_dir", None)
    return None if folder is None else writable(Path(folder), directory=True)


def problems(keyring: Any, audit: Any, store: Any) -> dict[str, str]:
    """Each failing check and why; empty when every file a request needs is usable."""
    found = {
        "keys_file": keys_file_problem(keyring),
        "audit_log": audit_log_problem(audit),
        "model_cache": model_cache_problem(store),
    }
    return {check: reason for check, reason in found.items() if reason is not None}
