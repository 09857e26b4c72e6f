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
import threading
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
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.readiness import CHECKS as READINESS_CHECKS

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


@dataclass
class WorkerIdentity:
    """This process's worker number in its instance (None alone), on every log line."""

    number: int | None = None


WORKER = WorkerIdentity()


class WorkerProcessMetrics:
    """``process_*`` of every worker, not only the one answering a scrape.

    With several workers the scrape reads the multiprocess files, so each worker writes its
    own figures there (with its ``pid``) every few seconds from a thread of its own.
    """

    SECONDS = 5.0

    def __init__(self, registry: CollectorRegistry):
        self._source = ProcessCollector(registry=None)
        self._gauges: dict[str, Gauge] = {}
        for name, text in (
            ("process_resident_memory_bytes", "Resident memory size in bytes, per worker"),
            ("process_virtual_memory_bytes", "Virtual memory size in bytes, per worker"),
            ("process_cpu_seconds_total", "Total user and system CPU time in seconds, per worker"),
            ("process_open_fds", "Open file descriptors, per worker"),
            ("process_max_fds", "Maximum open file descriptors, per worker"),
            ("process_start_time_seconds", "Start time since the epoch in seconds, per worker"),
        ):
            self._gauges[name] = Gauge(name, text, registry=registry, multiprocess_mode="liveall")
        self.update()
        threading.Thread(target=self._run, name="ptb-process-metrics", daemon=True).start()

    def update(self) -> None:
        for family in self._source.collect():
            for sample in family.samples:
                gauge = self._gauges.get(sample.name)
                if gauge is not None:
                    gauge.set(sample.value)

    def _run(self) -> None:
        while True:
            time.sleep(self.SECONDS)
            self.update()


def forget_worker() -> None:
    """A worker that stops takes its per-worker figures (``liveall``) out of later scrapes."""
    folder = multiprocess_dir()
    if folder is not None:
        mark_process_dead(os.getpid(), folder)


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
        if multiprocess_dir() is None:
            ProcessCollector(registry=self.registry)
        else:
            WorkerProcessMetrics(self.registry)
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
        PlatformCollector(registry=registry)  # python_info, as a single process shows it
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
        failing = state.readiness()
        ready = GaugeMetricFamily(
            "ptb_serving_ready", "1 when the serving model is loaded and /readyz answers 200"
        )
        serving = state.status == "ready" and model is not None
        ready.add_metric([], 1.0 if serving and not failing else 0.0)
        yield ready
        problem = GaugeMetricFamily(
            "ptb_readiness_problem",
            "1 while a file a request needs fails its check (keys_file: not re-read, old keys in "
            "force; audit_log: not writable; model_cache: not writable)",
            labels=["check"],
        )
        for check in READINESS_CHECKS:
            problem.add_metric([check], 1.0 if check in failing else 0.0)
        yield problem
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
    """The matched route's path template; ``unmatched`` for a path no route takes.

    FastAPI's own routes (``/docs``, ``/openapi.json``) and mounts (``/static``) leave no
    ``route`` in the scope: they are found by matching the app's routes again.
    """
    route = scope.get("route")
    if route is None:
        app = scope.get("app")
        for candidate in getattr(getattr(app, "router", None), "routes", ()):
            if candidate.matches(scope)[0] == Match.FULL:
                route = candidate
                break
    path = getattr(route, "path", None) or getattr(route, "path_format", None)
    if isinstance(path, str) and path and not hasattr(route, "endpoint"):
        path = f"{path}/{{path}}"  # a mount: its files under one template
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
    """One JSON object per line: time, level, logger, message, the process id and worker
    number (``pid``, ``worker``: which worker said it), and a record's ``ptb`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry["pid"] = record.process
        entry["worker"] = WORKER.number
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
    logging.captureWarnings(True)  # a library's warning is a JSON line too
    # MLflow installs a plain-text handler of its own when imported, unless told not to.
    os.environ.setdefault("MLFLOW_CONFIGURE_LOGGING", "false")
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
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "mlflow"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True
