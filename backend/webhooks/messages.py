"""What a delivery carries: one event, as the event feed shows it, in the Standard Webhooks
envelope `{"type", "timestamp", "data"}`. Its personal fields are there only for a key with
`patients:read` (opened, or redacted once their subject was erased); otherwise they are left
out."""

from __future__ import annotations

from typing import Any

import orjson

from backend.eventstore import RecordedEvent
from backend.kernel.events import upcast
from backend.privacy.sealing import SEALED


def body(event: RecordedEvent) -> bytes:
    """`event` opened already when its personal fields are to be shown."""
    data = {k: v for k, v in event.data.items() if k != SEALED}
    if SEALED not in event.data:  # an upcaster may need a personal field left out
        data = _current(event, data)
    item: dict[str, Any] = {
        "position": event.position,
        "type": event.event_type,
        "stream_type": event.stream_type,
        "stream_id": str(event.stream_id),
        "version": event.version,
        "data": data,
        "occurred_at": event.occurred_at,
        "recorded_at": event.recorded_at,
    }
    envelope = {"type": event.event_type, "timestamp": event.recorded_at, "data": item}
    return orjson.dumps(envelope, option=orjson.OPT_UTC_Z)


def _current(event: RecordedEvent, data: dict[str, Any]) -> dict[str, Any]:
    """The data in its type's current shape (stored events keep the shape they were written in)."""
    return upcast(event.event_type, event.schema_version, data)
