"""Events of the notifications context: the outbox of one message, and per-tenant templates."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import ClassVar
from uuid import UUID

from backend.kernel.events import DomainEvent, register


@register
@dataclass(frozen=True)
class NotificationQueued(DomainEvent):
    """`channel` and `address` are None when the patient has no way to be reached (the message
    is escalated at once). The address and the rendered body are the patient's personal data:
    sealed with their key, unreadable once they are erased."""

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
class NotificationTemplateSet(DomainEvent):
    name: str
    channel: str
    body: str
