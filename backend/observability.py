"""Logs, traces and the process's own metrics.

Logs: one JSON object per line on stdout, whoever writes them: structlog, or the standard
library's loggers (uvicorn, aiokafka, asyncio, alembic), rendered by the same processors.
Every line carries `request_id`, `trace_id` and `span_id`: those of the request it was written
under (bound by backend/api/middleware.py) and of the span open when it was written (the
request's, a command's, a projection's apply), of the event it is about (a projection parking),
or null when it belongs to none (start-up, progress).

Traces: OpenTelemetry, one trace from an HTTP request through its command, the append, the
relay's publish, the projector's apply and the reactions and deliveries that follow
(docs/operations.md, "Traces"). `configure_tracing` sets up the SDK once per process and the
instrumentation of asyncpg and aiokafka (FastAPI's is per app: backend/bootstrap.py); spans go
to OTLP when `OTEL_EXPORTER_OTLP_ENDPOINT` (or `..._TRACES_ENDPOINT`) is set, nowhere when not:
the spans still exist then, so that log lines and recorded events name a real trace and span
(but not the per-statement and per-message ones: `trace_clients`).

Metrics: `METRICS` holds the counters and histograms a process keeps itself (appends, commands,
notification and webhook outcomes); `GET /metrics` serves them next to the gauges it reads from
the database (backend/operations/metrics.py)."""

from __future__ import annotations

import logging
import os
import re
import secrets
import sys
from dataclasses import dataclass

import structlog
from opentelemetry import context, trace
from opentelemetry.instrumentation.aiokafka import AIOKafkaInstrumentor
from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from prometheus_client import CollectorRegistry, Counter, Histogram
from structlog.typing import EventDict, Processor, WrappedLogger

from backend.eventstore import RecordedEvent


def _ids(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    event.setdefault("request_id", None)
    span = trace.get_current_span().get_span_context()
    if span.is_valid:
        event.setdefault("trace_id", format(span.trace_id, "032x"))
        event.setdefault("span_id", format(span.span_id, "016x"))
    event.setdefault("trace_id", None)
    event.setdefault("span_id", None)
    return event


def configure_logging(level: str = "INFO") -> None:
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _ids,
    ]
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                structlog.processors.JSONRenderer(),
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )


# W3C trace context (`traceparent`): which trace a request belongs to. A request that brings a
# valid `traceparent` joins the caller's trace; any other starts a new one. Either way the
# request is a span of its own: the `traceparent` it passes on (recorded in its events'
# metadata, published by the relay as a Kafka header, carried on by the reactions) names the
# trace and this request's span as the parent. Its trace id is on every log line written for it.

_TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_NO_TRACE = "0" * 32
_NO_SPAN = "0" * 16
SAMPLED = "01"


@dataclass(frozen=True)
class TraceContext:
    trace_id: str
    span_id: str
    flags: str

    @property
    def traceparent(self) -> str:
        return f"00-{self.trace_id}-{self.span_id}-{self.flags}"


def trace_for_request(given: str | None) -> TraceContext:
    """This request's span: the OpenTelemetry server span open around it (FastAPI's
    instrumentation, which joined `given` already), or without one, a span of our own: in the
    caller's trace when `given` is a valid traceparent, else in a new trace."""
    current = current_trace()
    if current is not None:
        return current
    match = _TRACEPARENT.fullmatch(given.strip()) if given else None
    if match and match.group(1) != _NO_TRACE and match.group(2) != _NO_SPAN:
        return TraceContext(match.group(1), secrets.token_hex(8), match.group(3))
    return TraceContext(secrets.token_hex(16), secrets.token_hex(8), SAMPLED)


def trace_id_of(traceparent: object) -> str | None:
    """The trace id in a recorded `traceparent` (an event's metadata), if it holds one."""
    match = _TRACEPARENT.fullmatch(traceparent) if isinstance(traceparent, str) else None
    return match.group(1) if match else None


def current_trace() -> TraceContext | None:
    """The OpenTelemetry span open now, if any."""
    span = trace.get_current_span().get_span_context()
    if not span.is_valid:
        return None
    return TraceContext(
        format(span.trace_id, "032x"), format(span.span_id, "016x"), format(span.trace_flags, "02x")
    )


def current_traceparent() -> str | None:
    current = current_trace()
    return None if current is None else current.traceparent


_W3C = TraceContextTextMapPropagator()


def context_of(traceparent: object) -> context.Context:
    """A context whose parent is the span a recorded `traceparent` names (an event's metadata):
    what follows an event (its publish, its apply, a reaction to it) continues its trace. An
    empty context (a new trace) when there is none."""
    if not isinstance(traceparent, str):
        return context.Context()
    return _W3C.extract({"traceparent": traceparent}, context=context.Context())


def event_attributes(event: RecordedEvent) -> dict[str, str | int]:
    """An event's place, on the spans of what follows it (its publish, apply, reactions)."""
    return {
        "caretrail.tenant_id": str(event.tenant_id),
        "caretrail.stream_type": event.stream_type,
        "caretrail.stream_id": str(event.stream_id),
        "caretrail.event_type": event.event_type,
        "caretrail.position": event.position,
    }


TRACER = trace.get_tracer("caretrail")
_provider: TracerProvider | None = None


def configure_tracing(service: str) -> TracerProvider:
    """The process's tracer provider, set up on the first call: named by `OTEL_SERVICE_NAME` or
    `service`, sampled as `OTEL_TRACES_SAMPLER` says (every trace, by default, following the
    caller's decision), exporting by OTLP when an endpoint is configured, and then asyncpg and
    aiokafka instrumented. Later calls return the same provider (tests add their own exporter
    to it)."""
    global _provider
    if _provider is None:
        named = {} if os.environ.get("OTEL_SERVICE_NAME") else {SERVICE_NAME: service}
        _provider = TracerProvider(resource=Resource.create(named))
        exporter = _otlp_exporter()
        if exporter is not None:
            _provider.add_span_processor(BatchSpanProcessor(exporter))
        trace.set_tracer_provider(_provider)
        if exporter is not None:
            trace_clients()
    return _provider


def trace_clients() -> None:
    """A span for every SQL statement (asyncpg instrumented) and for every Kafka message sent
    and received (aiokafka instrumented; the send span is named in the message's headers).

    Only where spans go somewhere (an OTLP exporter, or a test's own): a statement's span costs
    more CPU than the statement's own client work, and at one per statement it was 0.7-0.9 ms a
    command; a message's spans were about a sixth of the relay's and of the projector's CPU
    (docs/benchmarks.md), all spent on spans nobody could see. Requests, commands, publishes
    and applies have their spans in every case, so log lines and events still name them (an
    apply whose message names no send span continues the trace of the command that appended
    the event, from the event's metadata)."""
    statements = AsyncPGInstrumentor()  # type: ignore[no-untyped-call]
    for instrumentor in (statements, AIOKafkaInstrumentor()):
        if not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument(tracer_provider=_provider)


def _otlp_exporter() -> SpanExporter | None:
    """OTLP over HTTP/protobuf (the specification's default), or gRPC when
    `OTEL_EXPORTER_OTLP_PROTOCOL` (or `..._TRACES_PROTOCOL`) says `grpc`; the exporters read the
    rest of their `OTEL_EXPORTER_OTLP_*` settings themselves."""
    if not (
        os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    ):
        return None
    protocol = os.environ.get(
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "")
    )
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
        OTLPSpanExporter as HttpExporter,
    )

    return HttpExporter()


METRICS = CollectorRegistry()
"""This process's own counters and histograms (the gauges of `GET /metrics` are read from the
database at scrape time instead)."""

APPEND_SECONDS = Histogram(
    "caretrail_append_duration_seconds",
    "Time to append one command's events (the INSERT and its checks), by primary stream type",
    ["stream_type"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
    registry=METRICS,
)
COMMANDS = Counter(
    "caretrail_commands",
    "Commands run, by command (the route, or the reaction or worker that ran it) and outcome:"
    " ok, rejected (a domain rule refused it), conflict (concurrent writers outlasted its"
    " retries, or its If-Match no longer held) or error",
    ["command", "outcome"],
    registry=METRICS,
)
NOTIFICATIONS = Counter(
    "caretrail_notification_attempts",
    "Notification send attempts, by channel and outcome (sent or failed)",
    ["channel", "outcome"],
    registry=METRICS,
)
WEBHOOK_DELIVERIES = Counter(
    "caretrail_webhook_deliveries",
    "Webhook deliveries of one event to one subscription, by outcome (delivered or failed)",
    ["outcome"],
    registry=METRICS,
)
