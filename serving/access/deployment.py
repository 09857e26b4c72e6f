"""What a deployment must have before it answers: outside development, API keys, an audit log
and an audit key; in development without keys, a loud warning that anyone may call it.
"""

from __future__ import annotations

import logging

from features import DEVELOPMENT, ConfigurationError
from serving.access.audit import AuditLog
from serving.access.keys import KeyRing

logger = logging.getLogger(__name__)


def refuse_open_deployment(
    environment: str, api_keys: KeyRing | None, audit: AuditLog | None
) -> None:
    """``ConfigurationError`` for a deployment outside development missing keys or its audit."""
    if environment != DEVELOPMENT:
        if api_keys is None:
            raise ConfigurationError(
                "api_keys_file",
                f"refusing to start without API keys in {environment!r}: set PTB_API_KEYS_FILE "
                "(create keys with `ptb keys add`), or PTB_ENVIRONMENT=development on a "
                "developer's machine",
            )
        if audit is None:
            raise ConfigurationError(
                "audit_log", f"refusing to start without an audit log in {environment!r}"
            )
        if audit.request_key is None:
            raise ConfigurationError(
                "audit_key_file",
                f"refusing to start without an audit key in {environment!r}: set "
                "PTB_AUDIT_KEY_FILE (create one with `ptb audit new-key`); unkeyed request "
                "digests of person requests could be reversed by trying every person",
            )
    elif api_keys is None:
        logger.warning(
            "NO API KEYS: the service answers anyone, as role admin (PTB_ENVIRONMENT=development"
            " without PTB_API_KEYS_FILE). Never run it like this with real data."
        )
