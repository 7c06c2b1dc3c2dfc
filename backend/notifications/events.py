"""Events of the notifications context: the outbox of one message, and per-tenant templates."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, ClassVar
from uuid import UUID

from backend.kernel.events import DomainEvent, register, upcaster


@register
@dataclass(frozen=True)
class NotificationQueued(DomainEvent):
    """`channel` and `address` are None when the patient has no way to be reached (the message
    is escalated at once). The address and the rendered body are the patient's personal data:
    sealed with their key, unreadable once they are erased. `appointment_id` names the
    appointment a reminder is about (v2), so that the dispatcher can check it still holds."""

    schema_version: ClassVar[int] = 2
    personal: ClassVar[tuple[str, ...]] = ("address", "body")
    subject: ClassVar[str] = "patient_id"

    notification_id: UUID
    patient_id: UUID
    channel: str | None
    address: str | None
    template: str
    body: str
    send_after: dt.datetime
    source_event_id: UUID
    appointment_id: UUID | None


@upcaster("NotificationQueued", 1)
def _notification_queued_v1(data: dict[str, Any]) -> dict[str, Any]:
    """Reminders queued before v2 did not name their appointment: the reminder reaction still
    withdraws them when their appointment ends (it finds them by its confirmation)."""
    return {**data, "appointment_id": None}


@register
@dataclass(frozen=True)
class NotificationAttemptStarted(DomainEvent):
    """The intent to send, recorded before the channel is called. Until `lease_until` no other
    dispatcher takes the attempt over; after it (the sender crashed) the same attempt is sent
    again with the same idempotency key, which the provider deduplicates."""

    notification_id: UUID
    attempt: int
    lease_until: dt.datetime


@register
@dataclass(frozen=True)
class NotificationSent(DomainEvent):
    notification_id: UUID
    attempt: int
    provider_message_id: str


@register
@dataclass(frozen=True)
class NotificationAttemptFailed(DomainEvent):
    """`next_attempt_at` is None after the last allowed attempt."""

    notification_id: UUID
    attempt: int
    error: str
    next_attempt_at: dt.datetime | None


@register
@dataclass(frozen=True)
class NotificationEscalated(DomainEvent):
    """Handed to the front desk: the message could not be delivered."""

    notification_id: UUID
    reason: str


@register
@dataclass(frozen=True)
class NotificationDeferred(DomainEvent):
    """The message came due inside the tenant's quiet hours (read when sending): it waits until
    they end."""

    notification_id: UUID
    until: dt.datetime


@register
@dataclass(frozen=True)
class NotificationWithdrawn(DomainEvent):
    """What the message was for no longer holds (its appointment ended or started, the patient
    died or was admitted, quiet hours last past the start): it will not be sent.
    `attempt_in_flight` is the attempt that had been started when it was withdrawn (None if
    none): should that attempt's send succeed after all, it is still recorded as sent."""

    notification_id: UUID
    reason: str
    attempt_in_flight: int | None


@register
@dataclass(frozen=True)
class NotificationTemplateSet(DomainEvent):
    name: str
    channel: str
    body: str
