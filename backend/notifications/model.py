"""The notification aggregate (pure): one patient message in the outbox, from queued to sent or
escalated to the front desk.

Sending is at least once towards the provider but never twice in effect: an attempt is recorded
(with a lease) before the channel is called, and the channel is called with the idempotency key
`<notification id>:<attempt>`; a sender that crashed before recording the outcome is replaced,
once its lease ran out, by one that sends the same attempt again with the same key.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from backend.kernel.aggregate import Aggregate, register_aggregate
from backend.kernel.events import DomainEvent
from backend.notifications.events import (
    NotificationAttemptFailed,
    NotificationAttemptStarted,
    NotificationEscalated,
    NotificationQueued,
    NotificationSent,
)

NO_CONTACT = "no contact"
RECIPIENT_ERASED = "recipient erased"
_NAMESPACE = uuid.UUID("0d6c7e0a-51c4-4c2e-8f7e-2b9f4f1f6a10")


def notification_id(source_event_id: UUID, template: str) -> UUID:
    """Deterministic: the same source event and template always name the same notification, so
    a reaction run twice for one event finds its notification already queued."""
    return uuid.uuid5(_NAMESPACE, f"{source_event_id}/{template}")


@dataclass(frozen=True)
class Notification:
    id: UUID | None = None
    patient_id: UUID | None = None
    channel: str | None = None
    address: str | None = None
    template: str = ""
    body: str = ""
    send_after: dt.datetime | None = None
    source_event_id: UUID | None = None
    status: str = "none"
    attempts: int = 0
    lease_until: dt.datetime | None = None
    next_attempt_at: dt.datetime | None = None
    last_error: str | None = None
    provider_message_id: str | None = None
    escalation_reason: str | None = None

    @property
    def due_at(self) -> dt.datetime | None:
        """When a dispatcher should next act on it (None: nothing left to do)."""
        if self.status == "queued":
            return self.send_after
        if self.status == "failed":
            return self.next_attempt_at
        if self.status == "sending":
            return self.lease_until
        return None


@dataclass(frozen=True)
class Contact:
    channel: str | None
    address: str | None


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff: `first_delay` after the first failure, times `factor` after each
    next one; after `max_attempts` failures the notification is escalated."""

    max_attempts: int = 3
    first_delay: dt.timedelta = dt.timedelta(seconds=30)
    factor: int = 4

    def next_attempt_at(self, failed_attempt: int, now: dt.datetime) -> dt.datetime | None:
        if failed_attempt >= self.max_attempts:
            return None
        scale: int = self.factor ** (failed_attempt - 1)
        return now + self.first_delay * scale


def contact_for(preferred: str, phone: str | None, email: str | None) -> Contact:
    """The template's channel if the patient can be reached on it, else sms if they have a
    phone, else email; no phone and no email: no contact."""
    if preferred in ("sms", "whatsapp") and phone:
        return Contact(preferred, phone)
    if preferred == "email" and email:
        return Contact("email", email)
    if phone:
        return Contact("sms", phone)
    if email:
        return Contact("email", email)
    return Contact(None, None)


def queue(
    state: Notification,
    nid: UUID,
    patient_id: UUID,
    contact: Contact,
    template: str,
    body: str,
    send_after: dt.datetime,
    source_event_id: UUID,
) -> list[DomainEvent]:
    """Nothing if it is already queued (the source event was delivered again)."""
    if state.id is not None:
        return []
    queued = NotificationQueued(
        nid,
        patient_id,
        contact.channel,
        contact.address,
        template,
        body,
        send_after,
        source_event_id,
    )
    if contact.channel is None:
        return [queued, NotificationEscalated(nid, NO_CONTACT)]
    return [queued]


def start_attempt(state: Notification, now: dt.datetime, lease: dt.timedelta) -> list[DomainEvent]:
    """The next attempt if one is due; the same attempt again if its sender's lease ran out.
    A message whose recipient was erased after it was queued (its address reads as redacted)
    cannot be sent: it goes to the front desk at once instead of failing three times."""
    due = state.due_at
    if state.id is None or due is None or due > now:
        return []
    if state.address is None:
        return [NotificationEscalated(state.id, RECIPIENT_ERASED)]
    attempt = state.attempts if state.status == "sending" else state.attempts + 1
    return [NotificationAttemptStarted(state.id, attempt, now + lease)]


def record_sent(state: Notification, attempt: int, provider_message_id: str) -> list[DomainEvent]:
    if not _in_flight(state, attempt):
        return []  # recorded already, by this sender before a retry or by its replacement
    assert state.id is not None
    return [NotificationSent(state.id, attempt, provider_message_id)]


def record_failure(
    state: Notification, attempt: int, error: str, now: dt.datetime, retry: RetryPolicy
) -> list[DomainEvent]:
    if not _in_flight(state, attempt):
        return []
    assert state.id is not None
    next_at = retry.next_attempt_at(attempt, now)
    failed = NotificationAttemptFailed(state.id, attempt, error, next_at)
    if next_at is None:
        reason = f"{attempt} failed attempts; last error: {error}"
        return [failed, NotificationEscalated(state.id, reason)]
    return [failed]


def _in_flight(state: Notification, attempt: int) -> bool:
    return state.status == "sending" and state.attempts == attempt


def evolve(state: Notification, event: DomainEvent) -> Notification:
    replace = dataclasses.replace
    match event:
        case NotificationQueued():
            return Notification(
                event.notification_id,
                event.patient_id,
                event.channel,
                event.address,
                event.template,
                event.body,
                event.send_after,
                event.source_event_id,
                "queued",
            )
        case NotificationAttemptStarted():
            return replace(
                state, status="sending", attempts=event.attempt, lease_until=event.lease_until
            )
        case NotificationSent():
            return replace(
                state,
                status="sent",
                provider_message_id=event.provider_message_id,
                lease_until=None,
            )
        case NotificationAttemptFailed():
            return replace(
                state,
                status="failed",
                last_error=event.error,
                next_attempt_at=event.next_attempt_at,
                lease_until=None,
            )
        case NotificationEscalated():
            return replace(state, status="escalated", escalation_reason=event.reason)
    return state


def view(state: Notification) -> dict[str, Any]:
    return {**dataclasses.asdict(state), "due_at": state.due_at}


NOTIFICATION = register_aggregate(Aggregate("notification", Notification, evolve, view))
