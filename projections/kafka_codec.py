"""How an event travels through Kafka: JSON value, stream id as key, a partition chosen from the
stream id (so a stream's events stay in order), and headers for routing and tracing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import orjson

from backend.eventstore import RecordedEvent
from backend.kernel.jsonable import json_default

TOPIC = "caretrail.events"


def consumer_group(group: str, topic: str) -> str:
    """A projector group's Kafka consumer group: one per topic, so a restored database's topic
    (backend/eventstore/epochs.py) starts with offsets of its own."""
    return f"caretrail.projector.{group}" + ("" if topic == TOPIC else f".{topic}")


def partition_of(stream_id: UUID, partitions: int) -> int:
    """The low 32 bits of the stream id, modulo the partition count."""
    return (stream_id.int & 0xFFFFFFFF) % partitions


def encode(event: RecordedEvent) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    """(key, value, headers) of an event."""
    value = orjson.dumps(
        {
            "position": event.position,
            "tx_id": event.tx_id,
            "event_id": event.event_id,
            "tenant_id": event.tenant_id,
            "stream_type": event.stream_type,
            "stream_id": event.stream_id,
            "version": event.version,
            "event_type": event.event_type,
            "schema_version": event.schema_version,
            "data": event.data,
            "metadata": event.metadata,
            "occurred_at": event.occurred_at,
            "recorded_at": event.recorded_at,
        },
        default=json_default,
    )
    headers = [
        ("tenant_id", str(event.tenant_id).encode()),
        ("stream_type", event.stream_type.encode()),
        ("event_type", event.event_type.encode()),
        ("position", str(event.position).encode()),
        ("tx_id", str(event.tx_id).encode()),
    ]
    # The `traceparent` header is the relay's: its publish span's, added by the aiokafka
    # instrumentation (projections/relay.py), a child of the trace in the event's metadata.
    return str(event.stream_id).encode(), value, headers


def decode(value: bytes) -> RecordedEvent:
    d: dict[str, Any] = orjson.loads(value)
    return RecordedEvent(
        position=d["position"],
        event_id=UUID(d["event_id"]),
        tenant_id=UUID(d["tenant_id"]),
        stream_type=d["stream_type"],
        stream_id=UUID(d["stream_id"]),
        version=d["version"],
        event_type=d["event_type"],
        schema_version=d["schema_version"],
        data=d["data"],
        metadata=d["metadata"],
        occurred_at=dt.datetime.fromisoformat(d["occurred_at"]),
        recorded_at=dt.datetime.fromisoformat(d["recorded_at"]),
        tx_id=d["tx_id"],
    )


def encode_marker(tx_id: int, position: int) -> tuple[bytes, list[tuple[str, bytes]]]:
    """(value, headers) of a progress marker: the relay has published every event up to this
    place in the global order, so a partition's consumer that reads the marker has seen all of
    its partition's events up to there, however idle the partition."""
    headers = [
        ("marker", b"1"),
        ("tx_id", str(tx_id).encode()),
        ("position", str(position).encode()),
    ]
    return b"", headers


@dataclass(frozen=True)
class Envelope:
    """What the headers say of a message, read without decoding its body: an event's place and
    kind, or a progress marker's place (stream and event type empty)."""

    stream_type: str
    event_type: str
    tx_id: int
    position: int
    marker: bool = False


def traceparent_of(headers: Sequence[tuple[str, bytes]]) -> str | None:
    """The trace context a message was published in (the first `traceparent`, as W3C says)."""
    for name, value in headers:
        if name == "traceparent":
            return value.decode()
    return None


def envelope(headers: Sequence[tuple[str, bytes]]) -> Envelope | None:
    """None for a message published before these headers existed (decode it instead)."""
    found = {name: value.decode() for name, value in headers}
    try:
        if "marker" in found:
            return Envelope("", "", int(found["tx_id"]), int(found["position"]), marker=True)
        return Envelope(
            found["stream_type"],
            found["event_type"],
            int(found["tx_id"]),
            int(found["position"]),
        )
    except KeyError:
        return None
