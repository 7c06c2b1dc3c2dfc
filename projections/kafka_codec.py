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
    traceparent = event.metadata.get("traceparent")
    if traceparent:
        headers.append(("traceparent", str(traceparent).encode()))
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


@dataclass(frozen=True)
class Envelope:
    """What the headers say of an event, read without decoding its body."""

    stream_type: str
    event_type: str
    tx_id: int
    position: int


def envelope(headers: Sequence[tuple[str, bytes]]) -> Envelope | None:
    """None for a message published before these headers existed (decode it instead)."""
    found = {name: value.decode() for name, value in headers}
    try:
        return Envelope(
            found["stream_type"],
            found["event_type"],
            int(found["tx_id"]),
            int(found["position"]),
        )
    except KeyError:
        return None
