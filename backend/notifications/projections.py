"""rm_notifications: one row per notification, with `due_at` for the dispatcher."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from backend.eventstore import RecordedEvent
from backend.notifications.model import NOTIFICATION, Notification
from backend.privacy.sealing import ERASED_TEXT
from projections.framework import StateProjection


def _row(n: Notification) -> dict[str, Any]:
    return {
        "patient_id": n.patient_id,
        "channel": n.channel,
        "address": n.address,
        "template": n.template,
        "body": n.body,
        "send_after": n.send_after,
        "source_event_id": n.source_event_id,
        "status": n.status,
        "attempts": n.attempts,
        "lease_until": n.lease_until,
        "next_attempt_at": n.next_attempt_at,
        "last_error": n.last_error,
        "provider_message_id": n.provider_message_id,
        "escalation_reason": n.escalation_reason,
        "due_at": n.due_at,
    }


def _notification(r: asyncpg.Record) -> Notification:
    return Notification(
        r["notification_id"],
        r["patient_id"],
        r["channel"],
        r["address"],
        r["template"],
        r["body"],
        r["send_after"],
        r["source_event_id"],
        r["status"],
        r["attempts"],
        r["lease_until"],
        r["next_attempt_at"],
        r["last_error"],
        r["provider_message_id"],
        r["escalation_reason"],
    )


_STATE = StateProjection(
    "notifications", NOTIFICATION, "rm_notifications", "notification_id", _row, _notification
)


@dataclass(frozen=True)
class NotificationsProjection:
    """The notifications' state, and their personal fields redacted once their patient is
    erased (the row would otherwise keep the address and text it was projected with)."""

    name: str = _STATE.name
    table: str = _STATE.table
    key: str = _STATE.key
    from_row = staticmethod(_notification)

    def wants(self, stream_type: str, event_type: str) -> bool:
        return _STATE.wants(stream_type, event_type) or event_type == "PatientErased"

    async def apply(self, conn: asyncpg.Connection, events: Sequence[RecordedEvent]) -> None:
        await dataclasses.replace(_STATE, table=self.table).apply(conn, events)
        erased = [(e.tenant_id, e.stream_id) for e in events if e.event_type == "PatientErased"]
        if erased:
            await conn.execute(
                f"UPDATE {self.table} t SET address = NULL, body = $3"
                " FROM unnest($1::uuid[], $2::uuid[]) AS x(tenant_id, patient_id)"
                " WHERE t.tenant_id = x.tenant_id AND t.patient_id = x.patient_id",
                [tenant for tenant, _ in erased],
                [patient for _, patient in erased],
                ERASED_TEXT,
            )


NOTIFICATIONS = NotificationsProjection()
