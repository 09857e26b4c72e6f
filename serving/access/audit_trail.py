"""The audit record of every API request, and the refusal of API requests while it fails.

``AuditTrail`` is a pure ASGI middleware inside ``serving.observability.RequestWatch``: it
hashes the request as the app reads it and, when the response is done, appends one record to
the audit log (who, which endpoint, which model version, the keyed request digest). When the
audit log cannot be written, ``/v1/`` requests are answered 503 (and that refusal is itself
offered to the audit log, so the first request after a recovery reopens it): a grant is never
paid out unaudited.
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
    """ASGI middleware: the audit record of each ``/v1/`` request; 503 while the log fails."""

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
        method = scope["method"]
        facts = current_facts() or RequestFacts(request_id="")
        digest = request_digest(
            method, scope["path"], scope.get("query_string", b""), key=self.audit.request_key
        )
        sent = {"status": 500, "bytes": 0}

        async def hashing_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                digest.update(message.get("body", b""))
            return message

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                sent["status"] = message["status"]
            elif message["type"] == "http.response.body":
                sent["bytes"] += len(message.get("body", b""))
            await send(message)

        try:
            if self.audit_failing is not None:
                await self._refuse_unaudited(scope, receive, counting_send)
            else:
                await self.app(scope, hashing_receive, counting_send)
        finally:
            duration = time.perf_counter() - started
            self._audit(method, route_template(scope), sent, duration, facts, digest)

    def _audit(self, method, route, sent, duration, facts: RequestFacts, digest) -> None:
        record = {
            "request_id": facts.request_id,
            "key_id": facts.key_id,
            "role": facts.role,
            "method": method,
            "endpoint": route,
            "status": sent["status"],
            "model_version": facts.model_version,
            digest_field(self.audit.request_key): digest.hexdigest(),
            "response_bytes": sent["bytes"],
            "duration_ms": round(duration * 1000, 3),
        }
        try:
            self.audit.append(record)
        except AuditLogError as exc:
            self.metrics.audit_failures.inc()
            if self.audit_failing is None:
                logger.error("audit log failing, refusing API requests until it works: %s", exc)
            self.audit_failing = str(exc)
            return
        if self.audit_failing is not None:
            logger.warning("audit log writable again; API requests are answered again")
        self.audit_failing = None
        self.metrics.audit_records.inc()

    async def _refuse_unaudited(self, scope: Scope, receive: Receive, send: Send) -> None:
        """503 through the one error mapping, as any product error is answered."""
        refusal = AuditLogError(
            f"requests are refused while the audit log fails: {self.audit_failing}"
        )
        await error_response(refusal)(scope, receive, send)
