"""The notification aggregate (pure): one patient message in the outbox, from queued to sent or
escalated to the front desk.

Sending is at least once towards the provider but never twice in effect: an attempt is recorded
(with a lease) before the channel is called, and the channel is called with the idempotency key
`<notification id>:<attempt>`; a sender that crashed before recording the outcome is replaced,
once its lease ran out, by one that sends the same attempt again with the same key.

A message is sent only if it still holds when it comes due (circumstances.py): otherwise it is
withdrawn, escalated (an erased recipient) or deferred past the tenant's quiet hours. A
withdrawal may land while an attempt is in flight; the channel may then already have the
message, so a later `NotificationSent` for that attempt is still recorded: the status becomes
`sent` and `withdrawal_reason` shows that it went out too late to be stopped.
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
from backend.notifications.circumstances import (
    Circumstances,
    quiet_hours_reason,
    reason_to_withdraw,
)
from backend.notifications.events import (
    NotificationAttemptFailed,
    NotificationAttemptStarted,
    NotificationDeferred,
    NotificationEscalated,
    NotificationQueued,
    NotificationSent,
    NotificationWithdrawn,
)

NO_CONTACT = "no contact"
RECIPIENT_ERASED = "recipient erased"
PENDING = frozenset({"queued", "failed", "sending"})
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
    appointment_id: UUID | None = None
    withdrawal_reason: str | None = None
    withdrawn_during_attempt: int | None = None

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
    appointment_id: UUID | None,
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
        appointment_id,
    )
    if contact.channel is None:
        return [queued, NotificationEscalated(nid, NO_CONTACT)]
    return [queued]


def start_attempt(
    state: Notification, now: dt.datetime, lease: dt.timedelta, circumstances: Circumstances
) -> list[DomainEvent]:
    """The next attempt if one is due; the same attempt again if its sender's lease ran out.
    Instead: escalated or withdrawn if it no longer holds, deferred to the end of the quiet
    hours `now` falls in (a new attempt only: a lease taken over repeats an attempt begun
    outside them), or withdrawn if a reminder would then come after its appointment's start."""
    due = state.due_at
    if state.id is None or due is None or due > now:
        return []
    instead = instead_of_sending(state, now, circumstances)
    if instead:
        return instead
    if state.status != "sending":
        until = circumstances.quiet_hours.end_after(now)
        if until > now:
            reason = quiet_hours_reason(circumstances, until)
            if reason is not None:
                return withdraw(state, reason)
            return [NotificationDeferred(state.id, until)]
    attempt = state.attempts if state.status == "sending" else state.attempts + 1
    return [NotificationAttemptStarted(state.id, attempt, now + lease)]


def instead_of_sending(
    state: Notification, now: dt.datetime, circumstances: Circumstances
) -> list[DomainEvent]:
    """What to record instead of sending (nothing if the message still holds). A recipient
    erased since it was queued cannot be written to: the front desk gets it at once."""
    assert state.id is not None
    if circumstances.patient == "erased":
        return [NotificationEscalated(state.id, RECIPIENT_ERASED)]
    reason = reason_to_withdraw(circumstances, now)
    return [] if reason is None else withdraw(state, reason)


def withdraw(state: Notification, reason: str) -> list[DomainEvent]:
    """Nothing once the message is no longer pending (sent, escalated, withdrawn)."""
    if state.id is None or state.status not in PENDING:
        return []
    in_flight = state.attempts if state.status == "sending" else None
    return [NotificationWithdrawn(state.id, reason, in_flight)]


def in_flight(state: Notification, attempt: int) -> bool:
    """Whether `attempt` is still the one to send: not withdrawn, taken over or recorded."""
    return state.status == "sending" and state.attempts == attempt


def record_sent(state: Notification, attempt: int, provider_message_id: str) -> list[DomainEvent]:
    """Also after a withdrawal that came while this attempt was in flight: it went out."""
    withdrawn_too_late = state.status == "withdrawn" and state.withdrawn_during_attempt == attempt
    if not (in_flight(state, attempt) or withdrawn_too_late):
        return []  # recorded already, by this sender before a retry or by its replacement
    assert state.id is not None
    return [NotificationSent(state.id, attempt, provider_message_id)]


def record_failure(
    state: Notification, attempt: int, error: str, now: dt.datetime, retry: RetryPolicy
) -> list[DomainEvent]:
    if not in_flight(state, attempt):
        return []  # recorded already, or withdrawn meanwhile (nothing went out: it stays so)
    assert state.id is not None
    next_at = retry.next_attempt_at(attempt, now)
    failed = NotificationAttemptFailed(state.id, attempt, error, next_at)
    if next_at is None:
        reason = f"{attempt} failed attempts; last error: {error}"
        return [failed, NotificationEscalated(state.id, reason)]
    return [failed]


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
                appointment_id=event.appointment_id,
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
        case NotificationDeferred() if state.status == "failed":
            return replace(state, next_attempt_at=event.until)
        case NotificationDeferred():
            return replace(state, send_after=event.until)
        case NotificationWithdrawn():
            return replace(
                state,
                status="withdrawn",
                withdrawal_reason=event.reason,
                withdrawn_during_attempt=event.attempt_in_flight,
                lease_until=None,
                next_attempt_at=None,
            )
    return state


def view(state: Notification) -> dict[str, Any]:
    return {**dataclasses.asdict(state), "due_at": state.due_at}


NOTIFICATION = register_aggregate(
    Aggregate("notification", Notification, evolve, view, snapshot_version=2)
)
