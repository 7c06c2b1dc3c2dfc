"""rm_notifications: one row per notification, with `due_at` for the dispatcher."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from backend.eventstore import RecordedEvent
from backend.notifications.model import NOTIFICATION
from projections.framework import ERASURE, mirrored, redact_erased

_STATE = mirrored(
    "notifications",
    NOTIFICATION,
    "rm_notifications",
    "notification_id",
    lambda n: {"due_at": n.due_at},  # what the dispatcher looks for, indexed
)


@dataclass(frozen=True)
class NotificationsProjection:
    """The notifications' state, and their personal fields redacted once their patient is
    erased (the row would otherwise keep the address and text it was projected with)."""

    name: str = _STATE.name
    table: str = _STATE.table
    key: str = _STATE.key
    from_row = staticmethod(_STATE.from_row)
    view_of = staticmethod(_STATE.view_of)

    def wants(self, stream_type: str, event_type: str) -> bool:
        return _STATE.wants(stream_type, event_type) or event_type == ERASURE

    async def apply(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        await dataclasses.replace(_STATE, table=self.table).apply(conn, events)
        await redact_erased(conn, self.table, events, "address = NULL, body = $3")


NOTIFICATIONS = NotificationsProjection()
