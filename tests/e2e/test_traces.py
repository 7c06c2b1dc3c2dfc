"""One trace from an HTTP request to what follows it, read from the OpenTelemetry SDK's
in-memory exporter: the request's server span, the command's span with the streams, event types
and position it appended, the append's SQL; the reaction the events start, its command and the
notification it queues being sent; the relay's publish, the Kafka send and receive, and the
projection's apply (docs/operations.md, "Traces")."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer
from e2e_helpers import create_patient, patient_body
from notification_helpers import confirmed_for, no_quiet_hours, wait_for
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from structlog.testing import capture_logs
from support import TenantFixture

from backend import observability
from backend.eventstore import RecordedEvent
from backend.eventstore.types import GlobalCheckpoint
from backend.processes import ensure_topic
from projections import tracking
from projections.kafka_runner import KafkaProjector
from projections.relay import Relay

TRACE_ID = "5bf92f3577b34da6a3ce929d0e0e4736"
KAFKA_TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4737"
CALLER_SPAN = "00f067aa0ba902b7"
_EXPORTER = InMemorySpanExporter()


@pytest.fixture(scope="module")
def spans() -> InMemorySpanExporter:
    """Every span this process ends from now on (the provider is the app's: create_app set it
    up; this adds an exporter to it once)."""
    provider = observability.configure_tracing("caretrail-test")
    if not getattr(provider, "_test_exporter", False):
        provider.add_span_processor(SimpleSpanProcessor(_EXPORTER))
        provider._test_exporter = True  # type: ignore[attr-defined]
        observability.trace_clients()  # as when exporting: spans go somewhere now
    return _EXPORTER


def _hex(n: int, width: int) -> str:
    return format(n, f"0{width}x")


def _in_trace(exporter: InMemorySpanExporter, trace_id: str) -> list[ReadableSpan]:
    return [
        s
        for s in exporter.get_finished_spans()
        if s.context is not None and _hex(s.context.trace_id, 32) == trace_id
    ]


def _one(spans: Sequence[ReadableSpan], name: str) -> ReadableSpan:
    found = [s for s in spans if s.name == name]
    assert len(found) == 1, f"{name}: {[s.name for s in spans]}"
    return found[0]


def _parent_of(span: ReadableSpan) -> str | None:
    return None if span.parent is None else _hex(span.parent.span_id, 16)


def _id(span: ReadableSpan) -> str:
    assert span.context is not None
    return _hex(span.context.span_id, 16)


async def test_a_request_its_command_and_its_append_are_one_trace(
    client: httpx.AsyncClient,
    tenant: TenantFixture,
    spans: InMemorySpanExporter,
    projector_pool: asyncpg.Pool,
) -> None:
    headers = {**tenant.as_role("RECEPTIONIST"), "traceparent": f"00-{TRACE_ID}-{CALLER_SPAN}-01"}
    with capture_logs() as logs:
        r = await client.post("/v1/patients", json=patient_body(), headers=headers)
    assert r.status_code == 201, r.text
    trace = _in_trace(spans, TRACE_ID)

    server = _one(trace, "POST /v1/patients")
    assert server.kind == SpanKind.SERVER and _parent_of(server) == CALLER_SPAN
    command = _one(trace, "command POST /v1/patients")
    assert _parent_of(command) == _id(server)
    assert command.attributes is not None
    assert command.attributes["caretrail.tenant_id"] == str(tenant.id)
    assert command.attributes["caretrail.stream_type"] == "patient"
    assert command.attributes["caretrail.stream_id"] == r.json()["id"]
    assert "PatientRegistered" in command.attributes["caretrail.event_types"]  # type: ignore[operator]
    assert command.attributes["caretrail.position"] == r.json()["position"]
    sql = [s for s in trace if s.attributes and s.attributes.get("db.system") == "postgresql"]
    assert sql and all(_parent_of(s) == _id(command) for s in sql)

    # The request's log line names the server span; the events record the command's.
    (line,) = [e for e in logs if e["event"] == "request"]
    assert line["trace_id"] == TRACE_ID
    recorded = await projector_pool.fetchval(
        "SELECT metadata->>'traceparent' FROM events WHERE position = $1", r.json()["position"]
    )
    assert recorded == f"00-{TRACE_ID}-{_id(command)}-01"


async def test_logs_written_in_a_span_carry_its_ids(spans: InMemorySpanExporter) -> None:
    with (
        capture_logs(processors=[observability._ids]) as logs,
        observability.TRACER.start_as_current_span("outer") as span,
    ):
        observability.structlog.get_logger("test").info("inside")
    (line,) = logs
    assert line["trace_id"] == _hex(span.get_span_context().trace_id, 32)
    assert line["span_id"] == _hex(span.get_span_context().span_id, 16)


async def test_reactions_and_notifications_continue_the_trace(
    client: httpx.AsyncClient, tenant: TenantFixture, spans: InMemorySpanExporter
) -> None:
    await no_quiet_hours(client, tenant)
    patient = await create_patient(client, tenant, phone="+49 30 1234567")
    appointment = await confirmed_for(client, tenant, patient)
    await wait_for(client, tenant, patient["id"], "sent")

    confirms = [
        s
        for s in spans.get_finished_spans()
        if s.name == "command POST /v1/appointments/{appointment_id}/confirm"
        and s.attributes
        and s.attributes.get("caretrail.stream_id") == appointment["id"]
    ]
    assert len(confirms) == 1
    confirm = confirms[0]
    assert confirm.context is not None
    trace = _in_trace(spans, _hex(confirm.context.trace_id, 32))

    reaction = _one(trace, "reaction appointment-reminder")
    assert _parent_of(reaction) == _id(confirm)
    assert reaction.attributes is not None
    assert reaction.attributes["caretrail.event_type"] == "AppointmentConfirmed"
    queued = _one(trace, "command reaction:appointment-reminder")
    assert _parent_of(queued) == _id(reaction)
    dispatch = _one(trace, "notification dispatch")
    assert _parent_of(dispatch) == _id(queued)
    sends = [s for s in trace if s.name == "command dispatcher:notifications"]
    assert sends and all(_parent_of(s) == _id(dispatch) for s in sends)


async def test_the_relay_and_a_projector_continue_the_trace(
    client: httpx.AsyncClient,
    tenant: TenantFixture,
    spans: InMemorySpanExporter,
    relay_pool: asyncpg.Pool,
    projector_pool: asyncpg.Pool,
    kafka_bootstrap: str,
) -> None:
    """A relay of its own (its checkpoint just before the request's event, its own topic) and a
    projector reading that topic: the request's trace goes on through both."""
    headers = {
        **tenant.as_role("RECEPTIONIST"),
        "traceparent": f"00-{KAFKA_TRACE_ID}-{CALLER_SPAN}-01",
    }
    r = await client.post("/v1/patients", json=patient_body(), headers=headers)
    assert r.status_code == 201, r.text
    position = r.json()["position"]
    tx_id = await projector_pool.fetchval(
        "SELECT tx_id::text::bigint FROM events WHERE position = $1", position
    )

    suffix = uuid.uuid4().hex[:8]
    topic, name = f"caretrail.events.traces-{suffix}", f"traces-{suffix}"
    await ensure_topic(kafka_bootstrap, 1, topic)
    await tracking.relay_checkpoint(relay_pool, name)
    await tracking.move_relay(relay_pool, name, GlobalCheckpoint(tx_id, position - 1))

    recorder = _Recorder(f"traces-{suffix}")
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    projector = KafkaProjector(
        projector_pool, [recorder], kafka_bootstrap, group=f"traces-{suffix}", topic=topic
    )
    stop = asyncio.Event()
    relay = Relay(relay_pool, producer, partitions=1, topic=topic, name=name)
    tasks = [asyncio.create_task(relay.run(stop)), asyncio.create_task(projector.run(stop))]
    try:
        async with asyncio.timeout(30):
            await recorder.applied(position)
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        await producer.stop()

    trace = _in_trace(spans, KAFKA_TRACE_ID)
    command = _one(trace, "command POST /v1/patients")
    publishes = [
        s
        for s in trace
        if s.name == "relay publish"
        and s.attributes
        and s.attributes["caretrail.position"] == position
    ]
    assert len(publishes) == 1
    publish = publishes[0]
    assert _parent_of(publish) == _id(command)
    assert publish.attributes is not None
    assert publish.attributes["caretrail.event_type"] == "PatientRegistered"
    send = [s for s in trace if s.kind == SpanKind.PRODUCER and _parent_of(s) == _id(publish)]
    assert len(send) == 1
    receive = [s for s in trace if s.kind == SpanKind.CONSUMER and _parent_of(s) == _id(send[0])]
    assert receive, [s.name for s in trace]
    apply = _one(trace, f"project {recorder.name}")
    assert _parent_of(apply) == _id(send[0])
    assert apply.attributes is not None
    assert apply.attributes["caretrail.position"] == position
    assert apply.attributes["caretrail.projection"] == recorder.name


class _Recorder:
    """A projection that keeps the positions it was given."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.positions: set[int] = set()
        self._changed = asyncio.Condition()

    async def applied(self, position: int) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: position in self.positions)

    def wants(self, stream_type: str, event_type: str) -> bool:
        return stream_type == "patient"

    async def apply(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        async with self._changed:
            self.positions.update(e.position for e in events)
            self._changed.notify_all()
