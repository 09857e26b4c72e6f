"""The audit record of every API request, written before the request is answered.

``AuditTrail`` is a pure ASGI middleware inside ``serving.observability.RequestWatch``: it
hashes the request as the app reads it and holds back the start of the answer (its status and
headers) until ``AuditLog.append`` has written (and, with ``PTB_AUDIT_FSYNC``, synced) the
record: who, which endpoint, which status, which model version, the keyed request digest, the
answer's ``Content-Length``. If the record cannot be written, that very request is answered 503
``unavailable`` instead (through ``serving.error_responses``, the one error path), and its
answer is never sent; every ``/v1/`` request tries the log afresh, so the first one after a
recovery is answered again. The 503 tells the caller nothing of the log's path or the OS error;
those go to the service's log. A grant is never answered unaudited.
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from features import AuditLogError
from serving.access.audit import AuditLog, digest_field, request_digest
from serving.error_responses import error_response
from serving.observability import Metrics, RequestFacts, current_facts, route_template

logger = logging.getLogger(__name__)

AUDITED_PREFIX = "/v1/"


class AuditTrail:
    """ASGI middleware: each ``/v1/`` answer waits for its audit record; 503 if it fails."""

    def __init__(self, app: ASGIApp, audit: AuditLog, metrics: Metrics):
        self.app = app
        self.audit = audit
        self.metrics = metrics
        self.audit_failing: str | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope.get("path", "").startswith(AUDITED_PREFIX):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        facts = current_facts() or RequestFacts(request_id="")
        digest = request_digest(
            scope["method"],
            scope["path"],
            scope.get("query_string", b""),
            key=self.audit.request_key,
        )
        refused = False

        async def hashing_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                digest.update(message.get("body", b""))
            return message

        async def recorded_send(message: Message) -> None:
            nonlocal refused
            if message["type"] == "http.response.start":
                record = self._record(scope, message, started, facts, digest.hexdigest())
                if not self._append(record):
                    refused = True
                    await self._refuse_unaudited(scope, receive, send)
                    return
            elif refused:
                return  # the answer whose record could not be written is never sent
            await send(message)

        await self.app(scope, hashing_receive, recorded_send)

    def _record(self, scope: Scope, start: Message, started: float, facts, digest: str) -> dict:
        length = next(
            (int(value) for name, value in start.get("headers", []) if name == b"content-length"),
            None,  # a streamed answer (the settlement export) has no length up front
        )
        return {
            "request_id": facts.request_id,
            "key_id": facts.key_id,
            "role": facts.role,
            "method": scope["method"],
            "endpoint": route_template(scope),
            "status": start["status"],
            "model_version": facts.model_version,
            digest_field(self.audit.request_key): digest,
            "response_bytes": length,
            "duration_ms": round((time.perf_counter() - started) * 1000, 3),
        }

    def _append(self, record: dict) -> bool:
        """Write the record; False (counted and logged with its cause) if it cannot be."""
        try:
            self.audit.append(record)
        except AuditLogError as exc:
            self.metrics.audit_failures.inc()
            if self.audit_failing is None:
                logger.error("audit log failing, refusing API requests until it works: %s", exc)
            self.audit_failing = str(exc)
            return False
        if self.audit_failing is not None:
            logger.warning("audit log writable again; API requests are answered again")
        self.audit_failing = None
        self.metrics.audit_records.inc()
        return True

    async def _refuse_unaudited(self, scope: Scope, receive: Receive, send: Send) -> None:
        """503 through the one error mapping, which tells the caller nothing of the cause."""
        await error_response(AuditLogError(self.audit_failing or ""))(scope, receive, send)
