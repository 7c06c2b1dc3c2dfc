"""rm_notifications: one row per notification, with `due_at` for the dispatcher."""

from __future__ import annotations

from typing import Any

import asyncpg

from backend.notifications.model import NOTIFICATION, Notification
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


NOTIFICATIONS = StateProjection(
    "notifications", NOTIFICATION, "rm_notifications", "notification_id", _row, _notification
)
