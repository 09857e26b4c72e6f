"""Metrics and one structured log line per request, from one middleware.

``RequestWatch`` is a pure ASGI middleware: it times each request, counts the response bytes,
and when the response is done it updates the Prometheus metrics and logs one JSON line
(``ptb.access``); the audit record is ``serving.access.audit_trail``'s. Handlers and
dependencies report what only they know (the caller's key id, the model version that answered)
into ``RequestFacts``, a per-request holder found through a context variable, so route modules
need no changes.

What is logged and labelled is the route template (``/v1/grants/lists/{list_id}``), never the
raw path, the query or a body field: person data never reaches a log or a metric.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
import uuid
from contextvars import ContextVar
from dataclasses import dataclass, field

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

access_log = logging.getLogger("ptb.access")
logger = logging.getLogger(__name__)

PROBES = frozenset({"/healthz", "/readyz", "/metrics"})  # logged at DEBUG: they come every second
REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


@dataclass
class RequestFacts:
    """What one request's handlers learnt that the log and the audit record need."""

    request_id: str
    key_id: str | None = None
    role: str | None = None
    model_version: str | None = None
    extra: dict = field(default_factory=dict)


_facts: ContextVar[RequestFacts | None] = ContextVar("ptb_request_facts", default=None)


def current_facts() -> RequestFacts | None:
    """The facts of the request being served, or None outside a request."""
    return _facts.get()


def note_model(version: str) -> None:
    """Record the model version that answered the current request."""
    facts = _facts.get()
    if facts is not None:
        facts.model_version = version


def note_caller(key_id: str | None, role: str | None) -> None:
    facts = _facts.get()
    if facts is not None:
        facts.key_id, facts.role = key_id, role


def multiprocess_dir() -> str | None:
    """Where worker processes share their metrics (``PROMETHEUS_MULTIPROC_DIR``), if they do."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class Metrics:
    """The service's Prometheus metrics, in a registry of its own (one per app).

    With several worker processes (``PROMETHEUS_MULTIPROC_DIR`` set before they start, as
    ``ptb serve --workers`` does), counters and histograms are kept in files there, and
    ``exposition`` sums every worker's; process figures and the serving model are then the
    answering worker's own.
    """

    def __init__(self, state=None):
        self.state = state
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "ptb_http_requests",
            "HTTP requests answered, by route template, method and status",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "ptb_http_request_duration_seconds",
            "Time from request to the last byte of the response, by route template",
            ["route", "method"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "ptb_http_requests_in_flight",
            "Requests being answered",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.reloads = Counter(
            "ptb_model_reloads",
            "Model reloads by trigger (admin, watch) and outcome (switched, unchanged, refused)",
            ["trigger", "outcome"],
            registry=self.registry,
        )
        self.audit_records = Counter(
            "ptb_audit_records", "Audit records written", registry=self.registry
        )
        self.audit_failures = Counter(
            "ptb_audit_write_failures",
            "Audit records that could not be written (requests refused meanwhile)",
            registry=self.registry,
        )
        self.auth_refusals = Counter(
            "ptb_auth_refusals",
            "Requests refused for their API key: missing, malformed, invalid, forbidden",
            ["reason"],
            registry=self.registry,
        )
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        if state is not None:
            self.registry.register(ServingCollector(state))

    def exposition(self) -> bytes:
        """The text a scrape gets: this process's metrics, or every worker's summed."""
        folder = multiprocess_dir()
        if folder is None:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=folder)
        if self.state is not None:
            registry.register(ServingCollector(self.state))
        return generate_latest(registry)


class ServingCollector:
    """The serving model and readiness, read from the serving state at scrape time."""

    def __init__(self, state):
        self.state = state

    def describe(self):
        return []

    def collect(self):
        state = self.state
        model = state.model
        ready = GaugeMetricFamily(
            "ptb_serving_ready", "1 when the serving model is loaded and answering"
        )
        ready.add_metric([], 1.0 if state.status == "ready" and model is not None else 0.0)
        yield ready
        if model is None:
            return
        info = InfoMetricFamily("ptb_serving_model", "The model version answering by default")
        info.add_metric(
            [],
            {
                "version": model.version,
                "name": model.name,
                "alias": model.alias or "",
                "run_id": model.run_id,
            },
        )
        yield info
        version = GaugeMetricFamily(
            "ptb_serving_model_version", "Registered version number of the serving model"
        )
        version.add_metric([], float(model.version) if model.version.isdigit() else -1.0)
        yield version


def route_template(scope: Scope) -> str:
    """The matched route's path template; ``unmatched`` for a path no route takes."""
    route = scope.get("route")
    path = getattr(route, "path", None) or getattr(route, "path_format", None)
    return path if isinstance(path, str) and path else "unmatched"


class RequestWatch:
    """ASGI middleware: metrics and one access log line per request.

    It starts the request's ``RequestFacts`` (and its ``X-Request-ID``), which the audit trail
    (``serving.access.audit_trail``) and the handlers fill in.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        method = scope["method"]
        facts = RequestFacts(request_id=_request_id(scope))
        token = _facts.set(facts)
        sent = {"status": 500, "bytes": 0}

        async def watching_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                sent["status"] = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", facts.request_id.encode()))
                message = {**message, "headers": headers}
            elif message["type"] == "http.response.body":
                sent["bytes"] += len(message.get("body", b""))
            await send(message)

        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, watching_send)
        finally:
            self.metrics.in_flight.dec()
            _facts.reset(token)
            duration = time.perf_counter() - started
            self._observe(method, route_template(scope), sent, duration, facts)

    def _observe(self, method, route, sent, duration, facts: RequestFacts) -> None:
        status = sent["status"]
        self.metrics.requests.labels(route, method, str(status)).inc()
        self.metrics.latency.labels(route, method).observe(duration)
        fields = {
            "event": "request",
            "request_id": facts.request_id,
            "method": method,
            "route": route,
            "status": status,
            "duration_ms": round(duration * 1000, 3),
            "response_bytes": sent["bytes"],
            "key_id": facts.key_id,
            "model_version": facts.model_version,
        }
        level = logging.DEBUG if route in PROBES else logging.INFO
        access_log.log(level, "%s %s %s", method, route, status, extra={"ptb": fields})


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            text = value.decode("latin-1")
            if REQUEST_ID.match(text):
                return text
            break
    return uuid.uuid4().hex


# -- structured logging ---------------------------------------------------------------------------


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and a record's ``ptb`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "ptb", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, separators=(",", ":"))

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        return f"{stamp}.{int(record.msecs):03d}Z"


def configure_logging(fmt: str = "json", level: str = "INFO") -> None:
    """Route every logger (uvicorn's too) to stderr, as JSON lines or plain text; call once.

    Start uvicorn with ``log_config=None`` and ``access_log=False``: ``ptb.access`` logs each
    request with its route template, and uvicorn's own access line would add the raw path.
    """
    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonFormatter()
        if fmt == "json"
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True
