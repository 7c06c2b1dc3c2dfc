"""The tenant chain's links, computed the same way by the chainer and by verification.

Link n = HMAC(links key, link n-1 ‖ seq, position, version, recorded_at ‖ the event's canonical
body ‖ its writer's mark). The key is the application's (backend/eventstore/marks.py): the
database holds links it cannot recompute, so it can neither rewrite an event nor remove one
without breaking the link after it.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson

from backend.eventstore import marks

EVENT_COLUMNS = (
    "e.position, e.event_id, e.tenant_id, e.stream_type, e.stream_id, e.version, e.event_type,"
    " e.schema_version, e.data, e.metadata, e.occurred_at, e.recorded_at, e.mark"
)
"""What a link covers, as every reader of links selects it (`events e`)."""


@dataclass(frozen=True)
class LinkedEvent:
    body: bytes
    """The application's part, canonical: what the writer's mark covers."""
    mark: bytes | None
    position: int
    version: int
    recorded_us: int

    def mark_holds(self) -> bool:
        return marks.mark_holds(self.body, self.mark)


def linked_event(row: asyncpg.Record | dict[str, Any]) -> LinkedEvent:
    """From a row with EVENT_COLUMNS."""
    body = marks.canonical_body(
        row["event_id"],
        row["tenant_id"],
        row["stream_type"],
        row["stream_id"],
        row["event_type"],
        row["schema_version"],
        row["data"],
        row["metadata"],
        row["occurred_at"],
    )
    return LinkedEvent(
        body, row["mark"], row["position"], row["version"], marks.micros(row["recorded_at"])
    )


def link(previous: bytes | None, seq: int, event: LinkedEvent) -> bytes:
    mac = hmac.new(marks.chain_key().links, previous or b"", hashlib.sha256)
    mac.update(orjson.dumps([seq, event.position, event.version, event.recorded_us]))
    mac.update(event.body)
    mac.update(event.mark or b"")
    return mac.digest()
